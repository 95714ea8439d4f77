"""Logging setup: text or JSON lines, with secrets redacted from every record."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

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
        cleaned = _redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        # Exception text (e.g. a request URL carrying an access token) is formatted by the
        # handler after this filter; format it now and cache the redacted text, which
        # formatters use instead of formatting the exception again.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _redact(record.exc_text)
        if record.stack_info:
            record.stack_info = _redact(record.stack_info)
        return True


def _redact(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, REDACTED)
    return text


def _database_error(exc: BaseException) -> BaseException | None:
    """The database error in ``exc``'s chain (itself, its cause or context), if any."""
    from sqlalchemy.exc import StatementError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, StatementError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def log_unexpected(logger: logging.Logger, exc: BaseException, msg: str, *args: object) -> None:
    """``logger.exception(msg, *args)`` for ``exc``, but never a database error's text.

    A failed statement's text quotes its parameters and PostgreSQL adds the failing row
    ("Failing row contains ..."): ticket and incident text. Such errors are logged with
    their type, SQLSTATE and stack frames only.
    """
    db_error = _database_error(exc)
    if db_error is None:
        logger.error(msg, *args, exc_info=exc)
        return
    orig = getattr(db_error, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error(
        msg + "\n%s (%s; text withheld: it may quote people's messages)\n%s",
        *args,
        type(db_error).__name__,
        f"SQLSTATE {sqlstate}" if sqlstate else type(orig).__name__,
        frames.rstrip(),
    )


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:  # already redacted by RedactSecrets
            data["exc"] = record.exc_text
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
