"""The Tencent Cloud ASR adapter against a fake that checks TC3 signatures and fields as documented."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.asr import AsrError
from bot.asr_tencent import TencentAsr
from bot.audio import Wav, to_wav
from bot.config import AsrConfig
from tests.fakes.tencent_asr import FakeTencentAsr
from tests.speech import spoken


@pytest.fixture
def asr() -> Iterator[FakeTencentAsr]:
    with FakeTencentAsr(transcript="明天拜访华东医疗") as fake:
        yield fake


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> Wav:
    return to_wav(spoken("明天拜访华东医疗", tmp_path_factory.mktemp("speech")).amr)


def _client(asr: FakeTencentAsr, **changes: object) -> TencentAsr:
    return TencentAsr(AsrConfig(**{**asr.liuhen_config(), **changes}))


def test_a_signed_request_is_answered_with_the_transcript(asr, wav):
    assert _client(asr).transcribe(wav) == "明天拜访华东医疗"
    [received] = asr.received
    assert received.error is None
    assert (received.body["EngSerViceType"], received.body["VoiceFormat"], received.body["SourceType"]) == (
        "16k_zh", "wav", 1)
    assert (received.sample_rate, received.channels) == (16000, 1)
    assert received.seconds == pytest.approx(wav.seconds, abs=0.01) and received.audio == wav.data


def test_a_wrong_secret_key_fails_the_signature_check(asr, wav):
    with pytest.raises(AsrError, match="AuthFailure.SignatureFailure"):
        _client(asr, secret_key="not-the-key").transcribe(wav)


def test_an_unknown_secret_id_is_named(asr, wav):
    with pytest.raises(AsrError, match="AuthFailure.SecretIdNotFound"):
        _client(asr, secret_id="AKIDsomeoneElse").transcribe(wav)


def test_a_stale_timestamp_is_refused_as_expired(asr, wav):
    stale = TencentAsr(AsrConfig(**asr.liuhen_config()), now=lambda: time.time() - 3600)
    with pytest.raises(AsrError, match="AuthFailure.SignatureExpire"):
        stale.transcribe(wav)


def test_a_service_error_is_raised_with_its_code_and_message(asr, wav):
    asr.fail_with("FailedOperation.ErrorRecognize", "识别失败")
    with pytest.raises(AsrError, match="FailedOperation.ErrorRecognize：识别失败"):
        _client(asr).transcribe(wav)


def test_audio_over_sixty_seconds_is_refused_by_the_service(asr, tmp_path):
    from tests.speech import silence

    with pytest.raises(AsrError, match="ErrorVoicedataTooLong"):
        _client(asr).transcribe(to_wav(silence(61).amr))


def test_an_unreachable_service_is_a_network_error(wav):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = TencentAsr(AsrConfig(provider="tencent", base_url=f"http://127.0.0.1:{port}", secret_id="a",
                                  secret_key="b"))
    with pytest.raises(AsrError, match="连接腾讯云语音识别失败"):
        client.transcribe(wav)


def test_audio_ffmpeg_cannot_read_is_an_audio_error(tmp_path: Path):
    from bot.audio import AudioError

    with pytest.raises(AudioError, match="ffmpeg"):
        to_wav(b"#!AMR\nnot really audio")
