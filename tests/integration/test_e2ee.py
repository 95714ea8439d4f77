"""Encrypted DMs, as Element creates them: the bot reads, answers and survives restarts."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from nio import RoomMessageNotice

from bot.devserver import LocalSynapse
from tests.support.botworld import BotWorld, InProcessBot
from tests.support.e2ee_user import E2EEUser

pytestmark = pytest.mark.integration

_seq = itertools.count(1)


@pytest.fixture
async def e2ee_user(
    synapse: LocalSynapse, tmp_path: Path
) -> AsyncIterator[Callable[[str], Awaitable[E2EEUser]]]:
    """Factory of encrypting users, each with its own crypto store under ``tmp_path``."""
    users: list[E2EEUser] = []

    async def new(name: str) -> E2EEUser:
        local = f"{name}-e2ee-{next(_seq)}"
        user = await E2EEUser.create(synapse, local, tmp_path / f"store-{local}")
        users.append(user)
        return user

    yield new
    for user in users:
        await user.close()


async def _encrypted_dm(world: BotWorld, user: E2EEUser) -> str:
    room_id = await user.create_encrypted_dm(world.bot_user_id)
    await user.wait_joined(room_id, world.bot_user_id)
    return room_id


def _assert_encrypted_notice(item, question: str) -> None:
    assert isinstance(item.event, RoomMessageNotice), type(item.event)
    assert item.event.decrypted, "the reply was not end-to-end encrypted"
    relates = item.source["content"]["m.relates_to"]
    assert relates["m.in_reply_to"]["event_id"] == question


async def test_e2ee_dm_ping_gets_encrypted_notice_reply(
    world: BotWorld, running_bot: InProcessBot, e2ee_user
) -> None:
    alice = await e2ee_user("alice")
    room_id = await _encrypted_dm(world, alice)
    question = await alice.send(room_id, "!ping")
    reply = await alice.wait_reply(room_id, world.bot_user_id, question)
    assert reply is not None, "no reply to an encrypted !ping"
    _assert_encrypted_notice(reply, question)
    assert "pong" in reply.event.body


async def test_e2ee_dm_help_lists_commands(
    world: BotWorld, running_bot: InProcessBot, e2ee_user
) -> None:
    bob = await e2ee_user("bob")
    room_id = await _encrypted_dm(world, bob)
    question = await bob.send(room_id, "!help")
    reply = await bob.wait_reply(room_id, world.bot_user_id, question)
    assert reply is not None, "no reply to an encrypted !help"
    _assert_encrypted_notice(reply, question)
    assert "!ping" in reply.event.body and "!help" in reply.event.body


async def test_e2ee_bot_restart_keeps_device_and_still_decrypts(world: BotWorld, e2ee_user) -> None:
    bot = InProcessBot(world.settings())
    app = await bot.start()
    try:
        device = app.matrix.client.device_id
        carol = await e2ee_user("carol")
        room_id = await _encrypted_dm(world, carol)
        first = await carol.send(room_id, "!ping before")
        assert await carol.wait_reply(room_id, world.bot_user_id, first) is not None
        await bot.stop()

        sent_while_down = await carol.send(room_id, "!ping while down")
        app = await bot.start()
        assert app.matrix.client.device_id == device, "a restart made a new device"
        after = await carol.send(room_id, "!ping after")
        for question in (sent_while_down, after):
            reply = await carol.wait_reply(room_id, world.bot_user_id, question)
            assert reply is not None, f"no reply after the restart to {question}"
            _assert_encrypted_notice(reply, question)
        assert not carol.undecrypted(room_id), "carol could not decrypt a bot message"
    finally:
        await bot.stop()
