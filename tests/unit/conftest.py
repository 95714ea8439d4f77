"""Unit tests build Settings directly; no HELPDESK_* variable of the shell may leak in."""

from __future__ import annotations

import os

import pytest

# Variables of the test suite itself (which databases to use), not of the bot.
_SUITE_VARS = ("HELPDESK_TEST_", "HELPDESK_REQUIRE_")


@pytest.fixture(autouse=True)
def _clean_helpdesk_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        upper = key.upper()
        if upper.startswith("HELPDESK_") and not upper.startswith(_SUITE_VARS):
            monkeypatch.delenv(key)
