import logging

from bot.config import load_settings
from bot.logs import RedactSecrets, secrets_of


def test_secrets_and_tokens_in_urls_never_reach_the_log(caplog):
    settings = load_settings(environ={"LIUHEN__WECOM__SECRET": "s3cr3t-value", "LIUHEN__INGEST__ARCHIVE_TOKEN": "tok-123"})
    caplog.handler.addFilter(RedactSecrets(secrets_of(settings)))
    log = logging.getLogger("liuhen.test")
    with caplog.at_level(logging.INFO):
        log.info("HTTP Request: POST http://127.0.0.1/cgi-bin/message/send?access_token=abcdef123 200")
        log.info("gettoken corpsecret=%s failed", "s3cr3t-value")
        log.info("bearer %s", "tok-123")
    text = caplog.text
    assert "abcdef123" not in text and "s3cr3t-value" not in text and "tok-123" not in text
    assert "access_token=***" in text and "corpsecret=***" in text and "bearer ***" in text
