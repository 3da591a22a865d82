"""Speech-to-text providers for voice messages, chosen by `asr.provider`: none, Tencent Cloud or a local engine."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from bot.audio import SAMPLE_RATE, Wav, pcm
from bot.config import AsrConfig

TEXT = {
    "no_model_dir": "asr.model_dir 不存在或不是目录：{path}（本地识别需要租户自备的模型文件，运行时不会下载）",
    "no_engine": "本地语音识别需要 Vosk：pip install 'liuhen[asr-local]'",
    "bad_model": "无法加载 {path} 下的语音模型：{error}",
}


class AsrError(Exception):
    """The provider did not answer with a transcript (network, refusal, bad audio); the message says why."""


class Provider(Protocol):
    name: str
    max_seconds: float  # longer voice is refused before it is sent

    def transcribe(self, wav: Wav) -> str:
        """The words in `wav` (16 kHz mono WAV); raises AsrError."""


@dataclass(frozen=True)
class NoProvider:
    """`asr.provider: none`: voice is kept, not transcribed."""

    name: str = "none"
    max_seconds: float = 0.0

    def transcribe(self, wav: Wav) -> str:
        raise AssertionError("provider none never transcribes")


_BETWEEN_HAN = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


class VoskProvider:
    """A Vosk model in the tenant's `model_dir` (Vosk is an optional extra). The directory and the engine are
    checked at start-up; the model is loaded on the first voice message, not by every CLI command."""

    name = "local"
    max_seconds = 300.0  # no service limit; a bound on how long one message may hold the worker

    def __init__(self, model_dir: str) -> None:
        if not Path(model_dir).is_dir():
            raise AsrError(TEXT["no_model_dir"].format(path=model_dir))
        try:
            import vosk  # optional: pip install 'liuhen[asr-local]'
        except ImportError:
            raise AsrError(TEXT["no_engine"]) from None
        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self.model_dir = model_dir

    @cached_property
    def _model(self) -> Any:
        try:
            return self._vosk.Model(self.model_dir)
        except Exception as exc:  # Vosk raises a bare Exception for a directory that holds no model
            raise AsrError(TEXT["bad_model"].format(path=self.model_dir, error=exc)) from None

    def transcribe(self, wav: Wav) -> str:
        recognizer = self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE)
        recognizer.AcceptWaveform(pcm(wav.data))
        words = json.loads(recognizer.FinalResult()).get("text", "")
        return _BETWEEN_HAN.sub("", words).strip()  # Chinese models put a space between words


def provider_from(config: AsrConfig) -> Provider:
    """Built once at start-up, so a missing model or engine stops the server with a clear message."""
    if config.provider == "tencent":
        from bot.asr_tencent import TencentAsr

        return TencentAsr(config)
    if config.provider == "local":
        return VoskProvider(config.model_dir)
    return NoProvider()
