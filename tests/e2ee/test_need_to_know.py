"""Need-to-know in the encrypted triage room: unsigned devices get no keys and no say."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.dev.devserver import LocalSynapse
from bot.matrix.render import event_content
from bot.storage.models import OutboxMessage
from tests.support.botworld import BotWorld, InProcessBot, wait_joined
from tests.support.e2ee_user import E2EEUser
from tests.support.element import element_dm, register

pytestmark = pytest.mark.integration


async def _reply_text(app, event_id: str, timeout: float = 30) -> str:
    """The body of the reply the bot queued for ``event_id``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with app.db.sessions() as session:
            rows = (
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.source_event_id == event_id)
                )
            ).all()
        if rows:
            return event_content(rows[0].content)["body"]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no reply queued for {event_id}")


async def test_triage_unsigned_device_is_refused_and_gets_no_keys(
    synapse: LocalSynapse, world: BotWorld, tmp_path: Path
) -> None:
    await world.lead.request(
        "PUT",
        f"/_matrix/client/v3/rooms/{world.triage}/state/m.room.encryption/",
        {"algorithm": "m.megolm.v1.aes-sha2"},
    )
    # nio cannot cross-sign: this team member's device is not signed by its owner.
    member = await E2EEUser.create(synapse, "teammate-unsigned", tmp_path / "teammate")
    bot = InProcessBot(world.settings())
    app = await bot.start()
    try:
        await wait_joined(world, world.triage)
        await world.lead.invite(world.triage, member.user_id)
        await member.client.join(world.triage)
        await member.wait_joined(world.triage, world.bot_user_id)

        refused = await member.send(world.triage, "!crypto")
        text = await _reply_text(app, refused)
        assert "cross-signed" in text and "Device:" not in text
        reply = await member.wait_reply(world.triage, world.bot_user_id, refused)
        assert reply is not None
        assert reply.event.event_id in {r.event.event_id for r in member.undecrypted(world.triage)}

        # Control: a teammate on Element, whose device is cross-signed, runs the same
        # command and reads the answer (in Element's enforced mode).
        user_id, password = await register(synapse, "teammate")
        await world.lead.invite(world.triage, user_id)
        run = await element_dm(
            synapse,
            world.bot_user_id,
            ["!crypto"],
            room_id=world.triage,
            account=(user_id, password),
        )
        reply = run.reply(0)
        assert reply is not None and reply["failure"] is None, reply
        assert "Device:" in reply["body"] and f"{member.user_id}: " in reply["body"]
        assert f"{user_id}: " not in reply["body"]  # its device is cross-signed
    finally:
        await bot.stop()
        await member.close()
