"""A fake Tencent Cloud ASR (一句话识别, SentenceRecognition) on 127.0.0.1: checks the TC3-HMAC-SHA256 signature
and the request fields as the API 3.0 documentation states them, and answers in its `Response` envelope."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import re
import time
import uuid
import wave
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any

from tests.fakes.loopback import Loopback

SECRET_ID = "AKIDfakeLiuhenAsr0000000000000000000"
SECRET_KEY = "fakeLiuhenAsrSecretKey0000000000"
FORMATS = ("wav", "pcm", "ogg-opus", "speex", "silk", "mp3", "m4a", "aac", "amr")
MAX_SECONDS = 60
MAX_BYTES = 3 * 1024 * 1024
CLOCK_SKEW = 300  # seconds; an older X-TC-Timestamp is AuthFailure.SignatureExpire
AUTH = re.compile(r"^TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/asr/tc3_request, "
                  r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")


@dataclass
class Received:
    """One request: what was wrong with it (None: accepted), and the audio it carried."""

    error: str | None
    body: dict[str, Any]
    audio: bytes = b""
    seconds: float = 0.0
    sample_rate: int = 0
    channels: int = 0


@dataclass
class FakeTencentAsr:
    """`transcript` is what every valid request is answered with; `fail_with(code)` scripts a service error."""

    transcript: str = ""
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._scripted: tuple[str, str] | None = None
        self._loopback = Loopback(self._handler())

    @property
    def base_url(self) -> str:
        return self._loopback.url

    def liuhen_config(self) -> dict[str, str]:
        return {"provider": "tencent", "base_url": self.base_url, "secret_id": SECRET_ID, "secret_key": SECRET_KEY}

    def fail_with(self, code: str | None, message: str = "") -> None:
        """Every later valid request is answered with this error (e.g. InternalError); None stops it."""
        self._scripted = (code, message) if code else None

    def __enter__(self) -> FakeTencentAsr:
        self._loopback.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._loopback.stop()

    def _check_signature(self, headers: dict[str, str], raw: bytes) -> str | None:
        found = AUTH.match(headers.get("authorization", ""))
        if not found:
            return "AuthFailure.InvalidAuthorization"
        secret_id, day, signed, signature = found.groups()
        if secret_id != SECRET_ID:
            return "AuthFailure.SecretIdNotFound"
        stamp = headers.get("x-tc-timestamp", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > CLOCK_SKEW:
            return "AuthFailure.SignatureExpire"
        if datetime.fromtimestamp(int(stamp), UTC).strftime("%Y-%m-%d") != day:
            return "AuthFailure.SignatureFailure"
        names = signed.split(";")
        if "content-type" not in names or "host" not in names:
            return "AuthFailure.SignatureFailure"
        canonical_headers = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n" for name in names)
        request = f"POST\n/\n\n{canonical_headers}\n{signed}\n{hashlib.sha256(raw).hexdigest()}"
        scope = f"{day}/asr/tc3_request"
        string = f"TC3-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"
        key = ("TC3" + SECRET_KEY).encode()
        for part in (day, "asr", "tc3_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, string.encode(), hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(expected, signature) else "AuthFailure.SignatureFailure"

    def _check(self, path: str, headers: dict[str, str], raw: bytes) -> Received:
        """The documented request: POST /, JSON body, SentenceRecognition 2019-06-14, audio in Data."""
        received = Received(error=None, body={})
        if path != "/" or headers.get("content-type") != "application/json; charset=utf-8":
            received.error = "InvalidParameter"
            return received
        received.error = self._check_signature(headers, raw)
        if received.error:
            return received
        if headers.get("x-tc-action") != "SentenceRecognition":
            received.error = "InvalidAction"
        elif headers.get("x-tc-version") != "2019-06-14":
            received.error = "NoSuchVersion"
        if received.error:
            return received
        try:
            body = received.body = json.loads(raw)
            audio = received.audio = base64.b64decode(body["Data"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            received.error = "InvalidParameter"
            return received
        if body.get("SourceType") != 1 or body.get("VoiceFormat") not in FORMATS \
                or not str(body.get("EngSerViceType", "")).startswith(("8k_", "16k_")):
            received.error = "InvalidParameterValue"
        elif body.get("DataLen") != len(audio) or len(audio) > MAX_BYTES:
            received.error = "InvalidParameterValue.ErrorInvalidVoicedata"
        elif body["VoiceFormat"] == "wav":
            received.error = self._check_wav(received, int(body["EngSerViceType"].split("k_")[0]) * 1000)
        return received

    @staticmethod
    def _check_wav(received: Received, rate: int) -> str | None:
        try:
            with wave.open(io.BytesIO(received.audio)) as reader:
                received.sample_rate, received.channels = reader.getframerate(), reader.getnchannels()
                received.seconds = reader.getnframes() / reader.getframerate()
        except (wave.Error, EOFError):
            return "FailedOperation.ErrorDownFile"
        if received.channels != 1 or received.sample_rate != rate:
            return "InvalidParameterValue.ErrorInvalidVoicedata"
        if received.seconds > MAX_SECONDS:
            return "InvalidParameterValue.ErrorVoicedataTooLong"
        return None

    def _answer(self, received: Received) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        error = (received.error, received.error) if received.error else self._scripted
        if error:
            return {"Response": {"Error": {"Code": error[0], "Message": error[1]}, "RequestId": request_id}}
        return {"Response": {"Result": self.transcript, "AudioDuration": int(received.seconds * 1000),
                             "WordSize": 0, "WordList": None, "RequestId": request_id}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                received = fake._check(self.path, headers, raw)
                fake.received.append(received)
                body = json.dumps(fake._answer(received), ensure_ascii=False).encode()
                self.send_response(200)  # API 3.0 answers errors with 200 and an Error object
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
