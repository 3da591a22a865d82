"""Logging set-up that never writes a secret: configured secrets and access tokens are masked."""

from __future__ import annotations

import logging
import re

from bot.config import Settings

MASK = "***"
TOKEN_IN_URL = re.compile(r"((?:access_token|accessToken|corpsecret|appSecret|ticket)=)[^&\s\"']+")


def secrets_of(settings: Settings) -> list[str]:
    values = [settings.wecom.secret, settings.wecom.token, settings.wecom.encoding_aes_key,
              settings.dingtalk.client_secret, settings.company_data.token, settings.ingest.archive_token]
    return sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = TOKEN_IN_URL.sub(rf"\g<1>{MASK}", message)
        for secret in self.secrets:
            clean = clean.replace(secret, MASK)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install(settings: Settings) -> None:
    """Adds the filter to every root handler (uvicorn's and httpx's records pass through them)."""
    redact = RedactSecrets(secrets_of(settings))
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
