"""Signed, expiring dashboard links: HMAC over (viewer, page, expiry), so a link opens one page for one person."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from bot.config import Settings
from store import server_secrets
from store.db import session_scope

TTL = timedelta(days=7)
DASH = "dash:"  # a card's link to a dashboard page, signed for its recipient when delivered (LinkSigner.resolve)
ADMIN = "admin"  # the admin console's page: served at /admin, not under /dash (a `dash:admin` card link opens it)


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
        path = "/admin" if page == ADMIN else f"/dash/{page}"
        return f"{self.base_url}{path}?t={self.token(viewer, page, now)}"

    def resolve(self, target: str, viewer: str | None, now: datetime) -> str:
        """A card link written as `dash:PAGE` by code that knows no settings becomes the viewer's signed URL."""
        if not target.startswith(DASH) or viewer is None:
            return target
        return self.url(viewer, target.removeprefix(DASH), now)

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


def signer_for(settings: Settings, engine: Engine) -> LinkSigner:
    """The configured secret wins; without one, the secret generated once and kept in the database, so links
    outlive a restart and open on every process behind a load balancer."""
    secret = settings.server.link_secret
    if not secret:
        with session_scope(engine) as session:
            secret = server_secrets.get_or_create(session, server_secrets.LINK_SECRET)
    return LinkSigner(secret.encode("utf-8"), settings.server.public_url)
