"""Features read what was sent through the Messenger and keep small values through
``bot.storage.kv``; they never touch the foundation's tables (outbox, DMs, kv) directly."""

from __future__ import annotations

import ast
from pathlib import Path

import bot

PACKAGE = Path(bot.__file__).resolve().parent
FOUNDATION_TABLES = {"OutboxMessage", "DirectRoom", "KeyValue"}
CHECKED = ("features", "web", "commands")


def _foundation_names(source: str) -> set[str]:
    """Foundation table classes ``source`` imports or names through ``bot.storage.models``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "bot.storage.models":
            found |= {alias.name for alias in node.names} & FOUNDATION_TABLES
        elif isinstance(node, ast.Attribute) and node.attr in FOUNDATION_TABLES:
            found.add(node.attr)
    return found


def test_feature_tables_features_never_use_foundation_tables() -> None:
    offenders = {}
    for folder in CHECKED:
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            names = _foundation_names(path.read_text(encoding="utf-8"))
            if names:
                offenders[path.relative_to(PACKAGE).as_posix()] = sorted(names)
    assert offenders == {}, f"use bot.messaging.Messenger / bot.storage.kv: {offenders}"


def test_feature_tables_scan_finds_both_spellings() -> None:
    source = (
        "from bot.storage.models import KeyValue, Base\n"
        "from bot.storage import models\n"
        "q = select(models.OutboxMessage.sent_event_id)\n"
    )
    assert _foundation_names(source) == {"KeyValue", "OutboxMessage"}
