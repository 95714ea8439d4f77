"""Logging: secrets never reach the output, and the JSON format is one object per line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import bot.logs
from bot.logs import REDACTED, register_secret, setup_logging
from bot.settings import Settings

PASSWORD = "hunter2-secret"
TOKEN = "syt_aGVscGRlc2s_abcdefghij"


def make_settings(**logging_: Any) -> Settings:
    return Settings(
        matrix={
            "homeserver": "https://matrix.example.org",
            "user_id": "@helpdesk:example.org",
            "password": PASSWORD,
        },
        rooms={"helpdesk": "#h:example.org", "triage": "#t:example.org"},
        logging=logging_,
    )


@pytest.fixture(autouse=True)
def _restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """setup_logging rewires the root logger; put it back, and forget learnt secrets."""
    monkeypatch.setattr(bot.logs, "_SECRETS", [])
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    yield
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def test_logs_password_from_settings_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(make_settings())
    log = logging.getLogger("bot.test")
    log.info("logging in with %s", PASSWORD)
    log.warning(f"inline {PASSWORD} in the message")
    err = capsys.readouterr().err
    assert PASSWORD not in err
    assert err.count(REDACTED) == 2
    assert "logging in with" in err


def test_logs_registered_token_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(make_settings())
    log = logging.getLogger("bot.test")
    log.info("before: %s", TOKEN)  # not a secret yet
    register_secret(TOKEN)
    log.info("after login: token=%s", TOKEN)
    err = capsys.readouterr().err.splitlines()
    assert TOKEN in err[0]
    assert TOKEN not in err[1] and REDACTED in err[1]


def test_logs_secret_in_exception_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(make_settings())
    register_secret(TOKEN)
    try:
        raise RuntimeError(f"GET /sync?access_token={TOKEN} failed")
    except RuntimeError:
        logging.getLogger("bot.test").exception("sync failed")
    err = capsys.readouterr().err
    assert "sync failed" in err
    assert "RuntimeError" in err  # the traceback is still there
    assert TOKEN not in err


def test_logs_json_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(make_settings(format="json", level="debug"))
    log = logging.getLogger("bot.test")
    log.debug("first %d", 1)
    log.info("second line\nwith a newline and the password %s", PASSWORD)
    try:
        raise ValueError("boom")
    except ValueError:
        log.error("third", exc_info=True)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    assert [r["message"] for r in records[:1]] == ["first 1"]
    assert [r["level"] for r in records] == ["DEBUG", "INFO", "ERROR"]
    assert all(r["logger"] == "bot.test" for r in records)
    assert PASSWORD not in lines[1] and REDACTED in records[1]["message"]
    assert "ValueError: boom" in records[2]["exc"]


def test_logs_json_exception_secret_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(make_settings(format="json"))
    try:
        raise RuntimeError(f"login rejected for password {PASSWORD}")
    except RuntimeError:
        logging.getLogger("bot.test").exception("login failed")
    (line,) = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert "RuntimeError" in record["exc"]
    assert PASSWORD not in line


def test_logs_level_from_settings(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(make_settings(level="WARNING"))
    log = logging.getLogger("bot.test")
    log.info("quiet")
    log.warning("loud")
    err = capsys.readouterr().err
    assert "quiet" not in err
    assert "loud" in err


def test_logs_database_error_text_is_withheld(capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy.exc import IntegrityError

    from bot.logs import log_unexpected

    text = "my ticket text"  # the frames show source lines: keep the text out of them
    setup_logging(None)
    try:
        try:
            raise ValueError(f"Failing row contains (1, {text})")
        except ValueError as driver_error:
            raise IntegrityError("INSERT ...", (text,), driver_error) from None
    except IntegrityError as exc:
        log_unexpected(logging.getLogger("test"), exc, "handling failed ref=%s", "abc")
    err = capsys.readouterr().err
    assert "handling failed ref=abc" in err and "IntegrityError" in err
    assert text not in err
