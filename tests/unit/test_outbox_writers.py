"""Only the messaging layer writes outbox rows: ``Messenger.post`` is the one way to say something.

Scans the ``bot`` package's source for calls of ``Outbox.add`` (``services.outbox.add``,
``self.outbox.add``...) and for statements that create or change ``OutboxMessage`` rows
(``OutboxMessage(...)``, ``update/insert/delete(OutboxMessage)``) outside ``bot.outbox``
(the queue itself) and ``bot.messaging`` (the Messenger).
"""

from __future__ import annotations

import ast
from pathlib import Path

import bot

PACKAGE = Path(bot.__file__).resolve().parent
OWNERS = ("outbox/", "messaging/")
# Housekeeping empties the text of old rows (it writes no message).
ALLOWED = {"maintenance.py"}
WRITES = {"update", "insert", "delete"}


def _writes(source: str) -> list[int]:
    """Line numbers of outbox writes in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "add":
            owner = func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name in ("outbox", "Outbox"):
                found.append(node.lineno)
        elif isinstance(func, ast.Name) and func.id == "OutboxMessage":
            found.append(node.lineno)
        elif isinstance(func, ast.Name) and func.id in WRITES and node.args:
            first = node.args[0]
            if isinstance(first, ast.Name) and first.id == "OutboxMessage":
                found.append(node.lineno)
    return sorted(found)


def test_outbox_writers_only_the_messaging_layer_writes_rows() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name.startswith(OWNERS) or name in ALLOWED:
            continue
        lines = _writes(path.read_text(encoding="utf-8"))
        if lines:
            offenders[name] = lines
    assert offenders == {}, f"post through bot.messaging.Messenger instead: {offenders}"


def test_outbox_writers_scan_finds_every_kind_of_write() -> None:
    source = """
async def f(services, session, outbox):
    await services.outbox.add(session, txn_key="k", content={}, room_id="!r")
    await Outbox.add(session, txn_key="k", content={}, room_id="!r")
    await outbox.add(session, txn_key="k", content={}, room_id="!r")
    session.add(OutboxMessage(txn_id="x"))
    await session.execute(update(OutboxMessage).values(content={}))
    await session.execute(delete(OutboxMessage))
    ids.add(3)
    await session.execute(update(Ticket).values(state="x"))
    await Messenger.post(session, message)
"""
    assert _writes(source) == [3, 4, 5, 6, 7, 8]
