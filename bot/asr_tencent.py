"""Tencent Cloud ASR 一句话识别 (SentenceRecognition, API 3.0): TC3-HMAC-SHA256 signed JSON over httpx.

Documented at cloud.tencent.com/document/api/441/17370 (the call) and /document/api/1093/35641 (signing v3).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from bot.asr import AsrError
from bot.audio import Wav
from bot.config import AsrConfig

BASE_URL = "https://asr.tencentcloudapi.com"
SERVICE = "asr"
ACTION = "SentenceRecognition"
VERSION = "2019-06-14"
ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"
ENGINE = "16k_zh"  # 中文通用, 16 kHz: what bot.audio converts to
MAX_SECONDS = 60.0  # the service refuses longer audio (and files over 3 MB; a 60 s 16 kHz WAV is ≈1.9 MB)
TIMEOUT = httpx.Timeout(15.0, connect=5.0)

TEXT = {
    "network": "连接腾讯云语音识别失败：{error}",
    "http": "腾讯云语音识别返回 HTTP {status}",
    "not_json": "腾讯云语音识别的应答不是 JSON",
    "error": "腾讯云语音识别返回错误 {code}：{message}",
}


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def authorization(*, secret_id: str, secret_key: str, host: str, action: str, body: bytes, timestamp: int) -> str:
    """The `Authorization` header of a POST to `/` whose signed headers are content-type, host and x-tc-action."""
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    signed_headers = "content-type;host;x-tc-action"
    canonical = "\n".join([
        "POST", "/", "",
        f"content-type:{CONTENT_TYPE}\nhost:{host}\nx-tc-action:{action.lower()}\n",
        signed_headers, hashlib.sha256(body).hexdigest(),
    ])
    scope = f"{day}/{SERVICE}/tc3_request"
    to_sign = "\n".join([ALGORITHM, str(timestamp), scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode("utf-8"), day), SERVICE), "tc3_request")
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"


class TencentAsr:
    """One signed call per voice message; every failure is an AsrError naming Tencent's error code."""

    name = "tencent"
    max_seconds = MAX_SECONDS

    def __init__(self, config: AsrConfig, *, now: Callable[[], float] = time.time) -> None:
        self.secret_id, self.secret_key = config.secret_id, config.secret_key
        self.url = (config.base_url or BASE_URL).rstrip("/") + "/"
        self.host = urlsplit(self.url).netloc
        self._now = now

    def transcribe(self, wav: Wav) -> str:
        body = json.dumps({
            "EngSerViceType": ENGINE, "SourceType": 1, "VoiceFormat": "wav",
            "Data": base64.b64encode(wav.data).decode("ascii"), "DataLen": len(wav.data),
        }).encode("utf-8")
        timestamp = int(self._now())
        headers = {
            "Authorization": authorization(secret_id=self.secret_id, secret_key=self.secret_key, host=self.host,
                                           action=ACTION, body=body, timestamp=timestamp),
            "Content-Type": CONTENT_TYPE, "Host": self.host, "X-TC-Action": ACTION,
            "X-TC-Timestamp": str(timestamp), "X-TC-Version": VERSION,
        }
        try:
            response = httpx.post(self.url, content=body, headers=headers, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            raise AsrError(TEXT["network"].format(error=type(exc).__name__)) from None
        if response.status_code != 200:
            raise AsrError(TEXT["http"].format(status=response.status_code))
        try:
            answer = response.json()["Response"]
        except (ValueError, KeyError, TypeError):
            raise AsrError(TEXT["not_json"]) from None
        if "Error" in answer:
            error = answer["Error"]
            raise AsrError(TEXT["error"].format(code=error.get("Code"), message=error.get("Message")))
        return str(answer.get("Result") or "").strip()
