"""A poisoned row, a room answering 500 and a 429 hold up nobody else; dead letters."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from bot.matrix.content import message_content
from bot.outbox import Outbox
from bot.storage.models import OutboxMessage
from tests.faults.proxy import FaultProxy, Rule
from tests.support.botworld import BotWorld, InProcessBot, wait_joined
from tests.support.mxclient import reply_to, text_of

pytestmark = pytest.mark.integration

SECRET = "the vault code is 4711"


def quoted(room_id: str) -> str:
    """A regex for ``room_id`` in a request path, URL-quoted or not."""
    return "".join({"!": "(?:%21|!)", ":": "(?:%3A|:)"}.get(c, re.escape(c)) for c in room_id)


async def test_faults_bad_rooms_and_rate_limits_do_not_delay_other_rooms(
    fault_world: BotWorld, proxy: FaultProxy
) -> None:
    world = fault_world
    muted = await world.lead.create_room(invite=[world.bot_user_id], name="muted")
    poisoned = await world.lead.create_room(invite=[world.bot_user_id], name="poisoned")
    settings = world.settings(
        matrix={"homeserver": proxy.url, "encryption": False},
        outbox={"backoff_base": "0.5s", "backoff_max": "3s"},
    )
    bot = InProcessBot(settings)
    app = await bot.start()
    try:
        await wait_joined(world, world.helpdesk)
        for room in (muted, poisoned):
            await wait_joined(world, room)
        alice = await world.user("alice")
        await alice.drain()
        await world.lead.drain()

        # The muted room answers 500 for 8 s; the poisoned one refuses for good (400
        # M_UNKNOWN, as Synapse says for a relation to an unknown event).
        down = {"errcode": "M_UNKNOWN", "error": "Internal server error"}
        until = time.monotonic() + 8
        proxy.add(Rule("PUT", f"/rooms/{quoted(muted)}/send/", 500, down, until=until))
        proxy.add(
            Rule("PUT", f"/rooms/{quoted(poisoned)}/send/", 400,
                 {"errcode": "M_UNKNOWN", "error": "unknown relation"})
        )  # fmt: skip
        async with app.db.sessions.begin() as session:
            await Outbox.add(
                session, txn_key="poison", room_id=poisoned, content=message_content(SECRET)
            )
            for i in range(15):
                await Outbox.add(
                    session, txn_key=f"muted{i}", room_id=muted, content=message_content(f"m{i}")
                )
        app.outbox.wake()

        # A rate limit on the helpdesk room: the first send there gets a 429.
        limited = {"errcode": "M_LIMIT_EXCEEDED", "error": "Slow down", "retry_after_ms": 1500}
        proxy.add(Rule("PUT", f"/rooms/{quoted(world.helpdesk)}/send/", 429, limited, times=1))
        asked = time.monotonic()
        ping = await alice.send(world.helpdesk, "!ping")
        answer = await alice.wait_for(lambda e: reply_to(e) == ping, timeout=10)
        answered = time.monotonic() - asked
        assert answer is not None, "!ping unanswered while other rooms failed"
        assert answered < 10

        helpdesk_sends = proxy.sends_to(world.helpdesk)
        assert [s.status for s in helpdesk_sends[:2]] == [429, 200]
        assert helpdesk_sends[1].at - helpdesk_sends[0].at >= 1.5  # retry_after honoured

        # Once the muted room recovers, its 15 messages arrive, in order, once each.
        bodies: list[str] = []

        def body(event: dict) -> str:
            return str(event.get("content", {}).get("body", ""))

        deadline = time.monotonic() + 40
        while len(bodies) < 15 and time.monotonic() < deadline:
            await world.lead.sync(timeout_ms=1000)
            bodies = [
                body(e)
                for e in world.lead.events
                if e.get("room_id") == muted and e.get("sender") == world.bot_user_id
            ]
        assert bodies == [f"m{i}" for i in range(15)]
        assert any(s.status == 500 for s in proxy.sends_to(muted))

        # The poisoned row is a dead letter, with exactly one notice in the triage room.
        await world.lead.sync(timeout_ms=1000)
        notices = [
            e
            for e in world.lead.events
            if e.get("room_id") == world.triage
            and e.get("sender") == world.bot_user_id
            and poisoned in text_of(e)
        ]
        assert len(notices) == 1, notices
        assert SECRET not in text_of(notices[0]) and "reply" in text_of(notices[0])
        assert len(proxy.sends_to(poisoned)) == 1  # permanent: tried once
        async with app.db.sessions() as session:
            rows = (await session.scalars(select(OutboxMessage))).all()
        states = {r.txn_id: r.state for r in rows}
        dead = [r for r in rows if r.state == "dead"]
        assert [r.room_id for r in dead] == [poisoned]
        assert all(s == "sent" for t, s in states.items() if t != dead[0].txn_id)
        assert app.metrics.dead_letters._value.get() == 1
    finally:
        await bot.stop()
