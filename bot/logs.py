"""Logging setup: text or JSON lines, with secrets redacted from every record."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable

from bot.config import Settings

REDACTED = "[redacted]"
_SECRETS: list[str] = []


def register_secret(secret: str) -> None:
    """Never log ``secret`` (e.g. an access token learnt at login)."""
    if secret and len(secret) >= 6 and secret not in _SECRETS:
        _SECRETS.append(secret)


class RedactSecrets(logging.Filter):
    """Replaces known secret values (passwords, tokens) wherever they appear in a record."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        for secret in secrets:
            register_secret(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if not _SECRETS:
            return True
        message = record.getMessage()
        cleaned = message
        for secret in _SECRETS:
            cleaned = cleaned.replace(secret, REDACTED)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(settings: Settings | None, level: str = "INFO") -> RedactSecrets:
    """Configure the root logger; returns the redaction filter (more secrets can be added)."""
    secrets: list[str] = []
    fmt = "text"
    if settings is not None:
        level = settings.logging.level
        fmt = settings.logging.format
        for secret in (settings.matrix.password, settings.matrix.access_token):
            if secret is not None:
                secrets.append(secret.get_secret_value())
    handler = logging.StreamHandler(sys.stderr)
    redact = RedactSecrets(secrets)
    handler.addFilter(redact)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries are chatty at INFO and nio logs request details at DEBUG; aiosqlite logs
    # every statement with its parameters (ticket text!) at DEBUG.
    for noisy in ("nio", "aiohttp.access", "alembic.runtime.migration", "peewee", "aiosqlite"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return redact
