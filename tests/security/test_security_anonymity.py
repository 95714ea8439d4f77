"""Anonymous tickets: no chain of stored values leads to the reporter (both databases).

The search starts from everything stored with an anonymous ticket (its rows and the
rows naming it) and follows every identifying value (ids, hashes, keys, exact times)
to every row in every table that holds it, again and again. No row reached may hold
the reporter's user id or DM room. Times kept to the hour (shared by everything of
that hour) and the public rooms/bot id (shared by every row there) are no link.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client import generate_latest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.matrix.render import event_content
from bot.storage import Database
from bot.storage.base import Base
from bot.storage.models import OutboxMessage
from tests.support.desk import ALICE, BOT, HELPDESK, LEAD, TRIAGE, Desk

BOB = "@bob:test"
_TOKEN = re.compile(r"[!$@#][A-Za-z0-9._=\-/+]+(?::[A-Za-z0-9.\-]+)?|[A-Za-z0-9_\-+/=]{16,}")


@dataclass
class Transport:
    """Sends into thin air; DMs get the same opaque room id as the desk's DMs."""

    desk: Desk
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def send_event(self, room_id: str, event_type: str, content: dict, txn_id: str) -> str:
        self.sent.append((room_id, event_content(content)))  # rendered, as NioTransport does
        return f"$out{len(self.sent)}x{abs(hash(txn_id)) % 10**9}"

    async def open_direct_room(self, user_id: str) -> str:
        return self.desk.dm_of(user_id)


def tokens(row: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for value in row.values():
        if isinstance(value, datetime):
            if (value.minute, value.second, value.microsecond) != (0, 0, 0):
                found.add(value.isoformat())
        elif isinstance(value, dict | list):
            found |= set(_TOKEN.findall(json.dumps(value, ensure_ascii=False)))
        elif isinstance(value, str):
            found |= set(_TOKEN.findall(value))
    return found - {TRIAGE, HELPDESK, BOT, LEAD}


async def all_rows(db: Database) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    async with db.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                rows.append((table.name, dict(row)))
    return rows


def reached_from(ticket_id: int, rows: list[tuple[str, dict[str, Any]]]) -> list[int]:
    """Indexes of the rows a chain of shared values reaches from ticket ``ticket_id``."""
    ref = re.compile(rf"\bT-{ticket_id}\b")
    todo = [
        i
        for i, (table, row) in enumerate(rows)
        if (table == "tickets" and row["id"] == ticket_id)
        or (table.startswith("ticket_") and row.get("ticket_id") == ticket_id)
        or ref.search(json.dumps(row, default=str))
    ]
    reached, seen = set(todo), set()
    row_tokens = [tokens(r) for _, r in rows]
    via: dict[int, tuple[int, str]] = {}
    while todo:
        i = todo.pop()
        for token in row_tokens[i] - seen:
            seen.add(token)
            for j, other in enumerate(row_tokens):
                if j not in reached and token in other:
                    reached.add(j)
                    via[j] = (i, token)
                    todo.append(j)
    CHAINS.clear()
    CHAINS.update(via)
    return sorted(reached)


CHAINS: dict[int, tuple[int, str]] = {}


def chain(i: int, rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """How row ``i`` was reached (for the failure message)."""
    steps = []
    while i in CHAINS:
        i, token = CHAINS[i]
        steps.append(f"{rows[i][0]} {rows[i][1]} --{token}-->")
    return steps


@pytest.fixture
async def desk(db: Database) -> AsyncIterator[Desk]:
    d = Desk(db, tickets={"anonymity_key": "k" * 32})
    yield d
    await d.close()


async def test_security_anonymous_tickets_lead_nowhere(
    desk: Desk, db: Database, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    transport = Transport(desk)
    step = iter(range(1, 1000))

    async def say(body: str, **kwargs: Any) -> str:
        # Odd steps, so equal exact times mean "the same moment", as in production.
        desk.clock.advance(timedelta(minutes=1, seconds=7, microseconds=next(step)))
        msg, _ = await desk.say(body, **kwargs)
        await desk.services.outbox.flush(transport)
        return msg.event_id

    await say("!ticket my laptop is slow", sender=BOB)  # someone else, not anonymous
    await say("!ticket anonymous public-secret-one", sender=ALICE, room="helpdesk")  # T-2
    await say("!ticket anonymous dm-secret-two", sender=ALICE)  # T-3
    await say("!ticket nofollowup dm-secret-three", sender=ALICE)  # T-4
    code = re.search(r"claim code: (\S+)", " ".join(c.get("body", "") for _, c in transport.sent))
    assert code is not None
    async with db.sessions() as session:
        dm_rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.room_id == desk.dm_of(ALICE))
        )
        confirmation = next(r for r in dm_rows if r.sent_event_id)
    await say("more details", sender=ALICE, in_reply_to=confirmation.sent_event_id)
    await say("!reply T-2 please reset it", sender=LEAD, room="triage")
    await say("!reply T-3 what browser?", sender=LEAD, room="triage")
    await say("!reply T-4 it is fine", sender=LEAD, room="triage")
    await say("!comment T-3 firefox", sender=ALICE)
    await say("!status T-3 in progress", sender=LEAD, room="triage")
    await say("!show T-3", sender=LEAD, room="triage")
    await say("!mytickets", sender=ALICE)
    # The reporter without follow-up reads the answer with the code, from any DM.
    await say(f"!mytickets {code[1]}", sender=BOB)
    assert "it is fine" in transport.sent[-1][1]["body"] and transport.sent[-1][0] == desk.dm_of(
        BOB
    )
    # Both follow-up routes work: the replies reached Alice's DM.
    to_alice = [c["body"] for room, c in transport.sent if room == desk.dm_of(ALICE)]
    assert any("please reset it" in b for b in to_alice)
    assert any("what browser?" in b for b in to_alice)
    assert not any("it is fine" in b for b in to_alice)

    rows = await all_rows(db)
    secret = {ALICE, desk.dm_of(ALICE)}
    # Logs and metrics: no line ties an anonymous ticket to Alice or her DM.
    for record in caplog.records:
        line = record.getMessage()
        assert code[1] not in line
        if re.search(r"\bT-[234]\b", line):
            assert not any(s in line for s in secret), line
    exposed = generate_latest(desk.services.outbox.metrics.registry).decode()
    assert not any(s in exposed for s in secret)
    assert any(ALICE in json.dumps(r, default=str) for _, r in rows)  # the search can see it
    for ticket_id in (2, 3, 4):
        for i in reached_from(ticket_id, rows):
            table, row = rows[i]
            dumped = json.dumps(row, default=str)
            assert not any(s in dumped for s in secret), (ticket_id, table, chain(i, rows))
    # The comments on T-3 arrived (so the chain was there to be found).
    assert any(t == "ticket_comments" and r["text"] == "firefox" for t, r in rows)

    if make_url(db_url).get_backend_name() == "sqlite":
        await db.close()
        raw = b"".join(
            p.read_bytes()
            for p in _sqlite_files(make_url(db_url).database)  # type: ignore[arg-type]
        )
        assert code[1].encode() not in raw  # the claim code never stored
        assert b"encrypted with a key" not in raw  # erased DM confirmations, no free pages


def _sqlite_files(database: str) -> list[Any]:
    from pathlib import Path

    path = Path(database)
    return [p for p in path.parent.iterdir() if p.name.startswith(path.name)]


def test_security_link_tokens() -> None:
    assert tokens({"a": "!room:test and @u:test", "b": datetime(2026, 1, 1, 9)}) == {
        "!room:test",
        "@u:test",
    }
