"""Opening WeCom callbacks: signature, replay window, decryption and safe XML parsing, or a refusal."""

from __future__ import annotations

import hashlib
import hmac
import struct
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any
from xml.parsers.expat import ExpatError

from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import WeChatException
from wechatpy.messages import BaseMessage

from bot.clock import Clock

MAX_BODY = 1024 * 1024
# Entity declarations are what XML bombs and XXE need; WeCom never sends a DTD, so any is refused unparsed.
FORBIDDEN_MARKUP = ("<!DOCTYPE", "<!ENTITY")
# Everything a corrupt body, ciphertext or plaintext can raise from base64, AES, struct, expat or wechatpy.
_MALFORMED = (ValueError, KeyError, IndexError, TypeError, AttributeError, struct.error, ExpatError, ET.ParseError,
              WeChatException)


class Rejected(Exception):
    """A refused callback: `status` is the HTTP answer, `reason` the metrics label."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _refuse_markup(xml: str) -> None:
    if any(marker in xml for marker in FORBIDDEN_MARKUP):
        raise Rejected(400, "dtd")


def _as_utf8(body: bytes) -> str:
    """WeCom sends UTF-8; any other encoding (UTF-16 hides a DTD from a byte search) is refused unparsed."""
    try:
        xml = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "malformed") from None
    if "\x00" in xml:  # UTF-16 without a byte-order mark is valid UTF-8 full of NULs
        raise Rejected(400, "malformed")
    return xml


class CallbackCrypto:
    """Checks before it decrypts: constant-time signature, then the timestamp window, then AES."""

    def __init__(self, *, token: str, encoding_aes_key: str, corp_id: str, clock: Clock, window_seconds: int) -> None:
        self.token = token
        self.corp_id = corp_id
        self.clock = clock
        self.window_seconds = window_seconds
        self._prp = PrpCrypto(WeChatCrypto(token, encoding_aes_key, corp_id).key)

    def verify_url(self, params: Mapping[str, str]) -> str:
        """GET URL verification: the plain echostr to answer."""
        echostr = params.get("echostr", "")
        self._check(params, echostr)
        return self._decrypt(echostr)

    def open(self, params: Mapping[str, str], body: bytes) -> tuple[BaseMessage, dict[str, Any], str]:
        """POST callback → (wechatpy message, its fields as a dict, the plain inner XML)."""
        outer = _as_utf8(body)
        _refuse_markup(outer)
        try:
            encrypted = ET.fromstring(outer).findtext("Encrypt")
        except _MALFORMED:
            raise Rejected(400, "malformed") from None
        if not encrypted:
            raise Rejected(400, "malformed")
        self._check(params, encrypted)
        xml = self._decrypt(encrypted)
        _refuse_markup(xml)
        try:
            message = parse_message(xml)
            data = message._data  # noqa: SLF001 — the parsed fields; wechatpy 1.8.18 is pinned
            if not isinstance(data, dict):
                raise ValueError("not a message")
        except _MALFORMED:
            raise Rejected(400, "malformed") from None
        return message, data, xml

    def _check(self, params: Mapping[str, str], encrypted: str) -> None:
        timestamp, nonce = params.get("timestamp", ""), params.get("nonce", "")
        expected = hashlib.sha1("".join(sorted([self.token, timestamp, nonce, encrypted])).encode()).hexdigest()
        if not hmac.compare_digest(expected.encode(), params.get("msg_signature", "").encode()):
            raise Rejected(403, "signature")
        try:
            skew = abs(self.clock.now().timestamp() - int(timestamp))
        except ValueError:
            raise Rejected(403, "replay") from None
        if skew > self.window_seconds:
            raise Rejected(403, "replay")

    def _decrypt(self, encrypted: str) -> str:
        try:
            return self._prp.decrypt(encrypted, self.corp_id)
        except _MALFORMED:
            raise Rejected(400, "undecryptable") from None
