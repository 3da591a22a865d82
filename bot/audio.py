"""Voice messages as speech engines want them: AMR (WeCom's format) → 16 kHz mono 16-bit WAV through ffmpeg."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from dataclasses import dataclass

SAMPLE_RATE = 16000  # what Tencent's 16k_zh engine and the usual local models expect
FFMPEG_TIMEOUT = 30.0  # seconds; a 60 s voice note converts in well under one

TEXT = {
    "no_ffmpeg": "服务器上没有 ffmpeg（Debian：apt-get install ffmpeg），无法转换语音",
    "failed": "ffmpeg 无法转换这段语音：{detail}",
    "timeout": "ffmpeg 转换语音超时",
}


class AudioError(Exception):
    """The audio could not be converted; the message says why, in Chinese."""


@dataclass(frozen=True)
class Wav:
    data: bytes  # a complete WAV file
    seconds: float


def require_ffmpeg() -> str:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(TEXT["no_ffmpeg"])
    return ffmpeg


def to_wav(audio: bytes) -> Wav:
    """Any format ffmpeg reads (AMR-NB/WB, SILK excepted) → 16 kHz mono PCM WAV, with its length."""
    command = [require_ffmpeg(), "-hide_banner", "-loglevel", "error", "-i", "pipe:0",
               "-ac", "1", "-ar", str(SAMPLE_RATE), "-sample_fmt", "s16", "-f", "wav", "pipe:1"]
    try:
        done = subprocess.run(command, input=audio, capture_output=True, timeout=FFMPEG_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise AudioError(TEXT["timeout"]) from None
    if done.returncode != 0 or not done.stdout:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [str(done.returncode)]
        raise AudioError(TEXT["failed"].format(detail=detail[0][:200]))
    return Wav(_fixed_header(done.stdout), _seconds(done.stdout))


def _frames(wav: bytes) -> tuple[int, int, int]:
    """(channels, rate, frames) from the data actually there: ffmpeg writing to a pipe cannot seek back to
    fill in the sizes, so the header's counts are not to be trusted."""
    with wave.open(io.BytesIO(wav)) as reader:
        channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
    start = wav.find(b"data") + 8
    return channels, rate, (len(wav) - start) // (channels * width)


def _seconds(wav: bytes) -> float:
    _, rate, frames = _frames(wav)
    return frames / rate


def _fixed_header(wav: bytes) -> bytes:
    """The same samples with correct RIFF and data sizes, for readers that believe the header."""
    channels, rate, frames = _frames(wav)
    start = wav.find(b"data") + 8
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(wav[start:start + frames * channels * 2])
    return out.getvalue()


def pcm(wav: bytes) -> bytes:
    """The raw samples of a WAV made by `to_wav` (what a local engine is fed)."""
    with wave.open(io.BytesIO(wav)) as reader:
        return reader.readframes(reader.getnframes())
