"""When a message is addressed to the bot: only a mention at its start counts.

A pill to the bot, ``@localpart:server`` or "Display name:" / "Display name," at the start
address it; the bot's name as a bare word ("helpdesk is down again") does not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from bot.commands.parsing import leading_pill
from bot.matrix.handling import EventHandling
from bot.storage import Database
from tests.support.desk import LEAD, Desk

BOT = "@helpdesk:test"  # display name "Security Helpdesk" (the default)
PILL = '<a href="https://matrix.to/#/@helpdesk:test">Security Helpdesk</a>'


class HelpdeskDesk(Desk):
    bot_user = BOT


@pytest.fixture
async def desk(db: Database) -> AsyncIterator[Desk]:
    d = HelpdeskDesk(db)
    yield d
    await d.close()


@pytest.mark.parametrize(
    "body",
    [
        "helpdesk: ping",
        "Helpdesk, ping",
        "@helpdesk:test: ping",
        "@helpdesk:test ping",
        "@helpdesk ping",
        "Security Helpdesk: ping",
        "security helpdesk, ping",
    ],
)
async def test_mentions_at_the_start_address_the_bot(desk: Desk, body: str) -> None:
    msg, _ = await desk.say(body, room="helpdesk")
    rows = await desk.from_event(msg.event_id)
    assert [r.content["body"] for r in rows] == ["pong"]


@pytest.mark.parametrize(
    "body",
    [
        "helpdesk is down again",
        "Helpdesk is down again",
        "Security Helpdesk is down again",
        "the helpdesk: is it down?",
        "ping helpdesk:",
        "I asked @helpdesk:test about it",
    ],
)
async def test_mentions_a_bare_name_gets_no_reply(desk: Desk, body: str) -> None:
    await desk.say(body, room="helpdesk")
    assert await desk.rows() == []


async def test_mentions_a_pill_at_the_start_addresses_the_bot(desk: Desk) -> None:
    msg, _ = await desk.say(
        "Security Helpdesk: ping",
        room="helpdesk",
        mentions_bot=True,
        formatted_body=f"{PILL}: ping",
    )
    rows = await desk.from_event(msg.event_id)
    assert [r.content["body"] for r in rows] == ["pong"]


async def test_mentions_a_pill_further_on_does_not_address_the_bot(desk: Desk) -> None:
    await desk.say(
        "ping Security Helpdesk",
        room="helpdesk",
        mentions_bot=True,
        formatted_body=f"ping {PILL}",
    )
    assert await desk.rows() == []


def test_mentions_leading_pill_reads_the_pill_text() -> None:
    assert leading_pill(f"{PILL}: hi", BOT) == "Security Helpdesk"
    assert leading_pill(f"<p>{PILL} hi</p>", BOT) == "Security Helpdesk"
    encoded = '<a href="https://matrix.to/#/%40helpdesk%3Atest">bot</a> hi'
    assert leading_pill(encoded, BOT) == "bot"
    assert leading_pill(f"hi {PILL}", BOT) is None
    other = '<a href="https://matrix.to/#/@alice:test">Alice</a>: hi'
    assert leading_pill(other, BOT) is None
    assert leading_pill(None, BOT) is None


class _Untrusted:
    """An E2EE stand-in: no device may command (as an unsigned device in triage)."""

    async def may_command(self, room_id: str, event: dict[str, object]) -> bool:
        return False


def _unsigned_handling(desk: Desk) -> EventHandling:
    return EventHandling(
        client=cast(Any, None),
        router=desk.router,
        e2ee=cast(Any, _Untrusted()),
        directory=cast(Any, SimpleNamespace(bot_user_id=BOT)),
        dispatcher=cast(Any, None),
        command_prefix="!",
    )


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ("!ping", {}),
        ("helpdesk: ping", {}),
        ("@helpdesk:test ping", {}),
        ("Security Helpdesk: ping", {"mentions_bot": True, "formatted_body": f"{PILL}: ping"}),
        ("ok", {"in_reply_to": "$earlier"}),
    ],
)
async def test_mentions_unsigned_device_refused_when_addressed(
    desk: Desk, body: str, fields: dict[str, Any]
) -> None:
    msg = desk.message(body, sender=LEAD, room="triage", **fields)
    assert not await _unsigned_handling(desk).signed_sender(msg, {})
    rows = await desk.from_event(msg.event_id)
    assert len(rows) == 1 and "cross-signed" in rows[0].content["body"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ("helpdesk is down again", {}),
        # A pill further on (with m.mentions, as Element sends it) talks *about* the bot.
        ("ping Security Helpdesk", {"mentions_bot": True, "formatted_body": f"ping {PILL}"}),
    ],
)
async def test_mentions_unsigned_device_silent_when_not_addressed(
    desk: Desk, body: str, fields: dict[str, Any]
) -> None:
    msg = desk.message(body, sender=LEAD, room="triage", **fields)
    assert not await _unsigned_handling(desk).signed_sender(msg, {})
    assert await desk.rows() == []
