"""A headless Chromium (the system's, driven by Playwright) for the web board's tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.tickets.conftest import bot_logs  # noqa: F401 - the whole log, as the bot sets it up

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """Debian's chromium (installed by .ci/run), or $HELPDESK_TEST_CHROMIUM."""
    return os.environ.get("HELPDESK_TEST_CHROMIUM") or shutil.which("chromium")


@pytest.fixture
def shots() -> Path:
    """Where screenshots go: $HELPDESK_TEST_OUTPUT/web, else test-output/web (git-ignored)."""
    base = Path(os.environ.get("HELPDESK_TEST_OUTPUT", ROOT / "test-output"))
    path = base / "web"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium; the test is skipped, saying why, when none is installed."""
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium installed (apt-get install chromium); browser tests skipped")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()
