"""Signed, expiring dashboard links: HMAC over (viewer, page, expiry), so a link opens one page for one person."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.config import ConfigError, Settings

TTL = timedelta(days=7)
DASH = "dash:"  # card links to a dashboard page, signed per recipient when queued (see resolve)
PROCESS_SECRET = secrets.token_bytes(32)  # the demo's: links die with the process, which is what a demo wants
TEXT = {"secret_required": "config.yaml: server.link_secret: 企业微信或钉钉已启用，看板链接需要签名密钥"}


class LinkRefused(Exception):
    """Why a link does not open: `expired`, `invalid` (tampered or malformed) or `foreign` (another page)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Grant:
    viewer: str
    page: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Mints and checks `?t=` tokens; the page is part of what is signed, so a token opens nothing else."""

    def __init__(self, secret: bytes, base_url: str, ttl: timedelta = TTL) -> None:
        self.secret, self.base_url, self.ttl = secret, base_url.rstrip("/"), ttl

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self.secret, body.encode("ascii"), hashlib.sha256).digest())

    def token(self, viewer: str, page: str, now: datetime) -> str:
        expires = int((now + self.ttl).timestamp())
        body = _b64(json.dumps([viewer, page, expires], ensure_ascii=False).encode("utf-8"))
        return f"{body}.{self._mac(body)}"

    def url(self, viewer: str, page: str, now: datetime) -> str:
        return f"{self.base_url}/dash/{page}?t={self.token(viewer, page, now)}"

    def verify(self, token: str, page: str, now: datetime) -> Grant:
        body, _, mac = token.partition(".")
        if not mac or not hmac.compare_digest(mac, self._mac(body)):
            raise LinkRefused("invalid")
        try:
            viewer, signed_page, expires = json.loads(_unb64(body))
        except (ValueError, TypeError):
            raise LinkRefused("invalid") from None
        if signed_page != page:
            raise LinkRefused("foreign")
        expires_at = datetime.fromtimestamp(int(expires), UTC)
        if expires_at <= now:
            raise LinkRefused("expired")
        return Grant(str(viewer), page, expires_at)


def signer_for(settings: Settings) -> LinkSigner:
    secret = settings.server.link_secret.encode("utf-8") or PROCESS_SECRET
    return LinkSigner(secret, settings.server.public_url)


def require_secret(settings: Settings) -> None:
    """`serve` with a platform on must have a stable secret: links in chat outlive a process."""
    if (settings.wecom.enabled or settings.dingtalk.enabled) and not settings.server.link_secret:
        raise ConfigError([TEXT["secret_required"]])


_installed: LinkSigner | None = None


def install(signer: LinkSigner) -> None:
    """The app's signer, for the `看板` command (handlers get no settings); set once by create_app."""
    global _installed
    _installed = signer


def installed() -> LinkSigner:
    if _installed is None:
        raise RuntimeError("bot.links.install() was not called")
    return _installed


def resolve(target: str, viewer: str | None, now: datetime) -> str:
    """A card link written as `dash:PAGE` by code that knows no settings becomes the recipient's signed URL."""
    if not target.startswith(DASH) or viewer is None:
        return target
    return installed().url(viewer, target.removeprefix(DASH), now)
