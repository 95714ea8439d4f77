"""Encrypted DMs, as Element creates them: the bot reads, answers and survives restarts."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from nio import RoomMessageNotice

from bot.dev.devserver import LocalSynapse
from tests.support.botworld import BotWorld, InProcessBot
from tests.support.e2ee_user import E2EEUser, wait_invite
from tests.support.mxclient import MatrixUser, reply_to

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


async def test_e2ee_undecryptable_message_gets_one_resend_notice(
    world: BotWorld, running_bot: InProcessBot, e2ee_user
) -> None:
    dave = await e2ee_user("dave")
    room_id = await _encrypted_dm(world, dave)
    # An encrypted event whose room key the bot never received (a session nobody shared).
    raw = MatrixUser(world.hs.url, dave.user_id, dave.client.access_token)
    try:
        keys = dave.client.olm.account.identity_keys
        question = await raw._send_event(
            room_id,
            "m.room.encrypted",
            {
                "algorithm": "m.megolm.v1.aes-sha2",
                "ciphertext": "AwgAEnB" + "A" * 40,
                "sender_key": keys["curve25519"],
                "session_id": "never-shared-session",
                "device_id": dave.client.device_id,
            },
        )
    finally:
        await raw.close()
    reply = await dave.wait_reply(room_id, world.bot_user_id, question)
    assert reply is not None, "an undecryptable message was silently dropped"
    _assert_encrypted_notice(reply, question)
    assert "send it again" in reply.event.body
    # Exactly once: nothing more arrives for it after a few more syncs.
    follow_up = await dave.send(room_id, "!ping")
    assert await dave.wait_reply(room_id, world.bot_user_id, follow_up) is not None
    answers = [r for r in dave.received if _replies_to(r, world.bot_user_id, question)]
    assert len(answers) == 1, answers


async def test_e2ee_dm_opened_by_the_bot_is_encrypted_and_readable(
    world: BotWorld, running_bot: InProcessBot, e2ee_user
) -> None:
    erin = await e2ee_user("erin")
    app = running_bot.app
    assert app is not None
    async with app.db.sessions.begin() as session:
        await app.outbox.add(
            session,
            txn_key="e2ee-test-dm",
            dm_user_id=erin.user_id,
            content={"msgtype": "m.notice", "body": "hello from the helpdesk"},
        )
    app.outbox.wake()
    room_id = await wait_invite(erin)
    assert erin.client.rooms[room_id].encrypted, "the bot opened an unencrypted DM"
    deadline = 30
    found = None
    for _ in range(deadline):
        found = next(
            (
                r
                for r in erin.received
                if r.room_id == room_id
                and getattr(r.event, "sender", "") == world.bot_user_id
                and getattr(r.event, "body", "") == "hello from the helpdesk"
            ),
            None,
        )
        if found:
            break
        await erin.sync(timeout_ms=1000)
    assert found is not None, f"no readable DM; undecrypted: {erin.undecrypted(room_id)}"
    assert found.event.decrypted


def _replies_to(item, sender: str, question: str) -> bool:
    relates = (item.source.get("content") or {}).get("m.relates_to") or {}
    return (
        getattr(item.event, "sender", None) == sender
        and (relates.get("m.in_reply_to") or {}).get("event_id") == question
    )


async def test_e2ee_off_still_answers_plain_rooms(world: BotWorld) -> None:
    bot = InProcessBot(world.settings(matrix={"encryption": False}))
    app = await bot.start()
    try:
        assert app.matrix.client.olm is None
        alice = await world.user("alice")
        question = await alice.send(world.helpdesk, "!ping")
        reply = await alice.wait_for(
            lambda e: e.get("sender") == world.bot_user_id and reply_to(e) == question, 20
        )
        assert reply is not None and reply["content"]["msgtype"] == "m.notice"
    finally:
        await bot.stop()
