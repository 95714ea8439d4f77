"""A message the bot cannot decrypt is kept: answered once when its key comes, else one notice."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from bot.dev.devserver import LocalSynapse
from tests.support.botworld import BotWorld, InProcessBot, wait_joined
from tests.support.e2ee_user import E2EEUser

pytestmark = pytest.mark.integration
_seq = itertools.count(1)


async def _put(user: E2EEUser, path: str, body: dict) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.put(
            f"{user.client.homeserver}/_matrix/client/v3{path}",
            json=body,
            headers={"Authorization": f"Bearer {user.client.access_token}"},
        ) as response:
            assert response.status == 200, await response.text()
            return await response.json()


async def _dm(synapse: LocalSynapse, world: BotWorld, tmp_path: Path) -> tuple[E2EEUser, str]:
    local = f"late-{next(_seq)}"
    user = await E2EEUser.create(synapse, local, tmp_path / local)
    room_id = await user.create_encrypted_dm(world.bot_user_id)
    await user.wait_joined(room_id, world.bot_user_id)
    hello = await user.send(room_id, "!ping")  # an Olm channel to the bot's device exists
    assert await user.wait_reply(room_id, world.bot_user_id, hello) is not None
    return user, room_id


async def _send_unshared(
    user: E2EEUser, room_id: str, body: str, bot: str
) -> tuple[str, str, list[dict]]:
    """A message under a fresh room session whose key is not sent yet.

    Returns the event id, the session id and the to-device messages that would carry
    the key to ``bot`` (send them with :func:`_send_keys` to deliver the key late).
    """
    olm = user.client.olm
    key_messages = [
        to_device
        for _, to_device in olm.share_group_session_parallel(
            room_id, [bot], ignore_unverified_devices=True
        )
    ]
    session = olm.outbound_group_sessions[room_id]
    session.shared = True  # lets nio encrypt with it; its key went to nobody yet
    content = olm.group_encrypt(
        room_id, {"type": "m.room.message", "content": {"msgtype": "m.text", "body": body}}
    )
    answer = await _put(
        user, f"/rooms/{quote(room_id)}/send/m.room.encrypted/{uuid.uuid4().hex}", content
    )
    del olm.outbound_group_sessions[room_id]  # later messages use a new, shared session
    return answer["event_id"], session.id, key_messages


async def _send_keys(user: E2EEUser, key_messages: list[dict]) -> None:
    for body in key_messages:
        await _put(user, f"/sendToDevice/m.room.encrypted/{uuid.uuid4().hex}", body)


async def _replies(user: E2EEUser, room_id: str, bot: str, question: str) -> list:
    await user.sync(timeout_ms=0)
    return [
        r
        for r in user.received
        if r.room_id == room_id
        and getattr(r.event, "sender", None) == bot
        and (r.source.get("content", {}).get("m.relates_to") or {})
        .get("m.in_reply_to", {})
        .get("event_id")
        == question
    ]


async def test_late_room_key_is_answered_once_even_across_a_restart(
    synapse: LocalSynapse, world: BotWorld, tmp_path: Path
) -> None:
    bot = InProcessBot(world.settings(matrix={"undecryptable_grace": "60s"}))
    app = await bot.start()
    user, room_id = await _dm(synapse, world, tmp_path)
    try:
        question, _, key_messages = await _send_unshared(user, room_id, "!ping", world.bot_user_id)
        held = app.matrix.e2ee.undecryptable.held
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if question in held:
                break
            await asyncio.sleep(0.1)
        assert question in held, "the bot never saw the message it cannot decrypt"
        # The bot restarts while it waits (its sync token moves past the message) ...
        await bot.stop()
        app = await bot.start()
        held = app.matrix.e2ee.undecryptable.held
        assert question in held
        # ... and then the key arrives, late.
        await _send_keys(user, key_messages)
        reply = await user.wait_reply(room_id, world.bot_user_id, question)
        assert reply is not None, "the late message was never answered"
        assert "pong" in reply.event.body
        follow = await user.send(room_id, "!ping")
        follow_reply = await user.wait_reply(room_id, world.bot_user_id, follow)
        assert follow_reply is not None and "pong" in follow_reply.event.body
        assert len(await _replies(user, room_id, world.bot_user_id, question)) == 1
        assert question not in held
    finally:
        await user.close()
        await bot.stop()


async def test_key_that_never_comes_gives_one_notice_naming_the_reason(
    synapse: LocalSynapse, world: BotWorld, running_bot: InProcessBot, tmp_path: Path
) -> None:
    app = running_bot.app
    await wait_joined(world, world.helpdesk)
    user, room_id = await _dm(synapse, world, tmp_path)
    # A second device of the sender: the bot's key request must reach it too.
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{synapse.url}/_matrix/client/v3/login",
            json={
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user.user_id},
                "password": f"{user.user_id[1:].split(':')[0]}-password",
            },
        ) as response:
            assert response.status == 200, await response.text()
            other_token = (await response.json())["access_token"]
    try:
        question, session_id, _ = await _send_unshared(user, room_id, "!ping", world.bot_user_id)
        keys = user.client.olm.account.identity_keys
        await _put(
            user,
            f"/sendToDevice/m.room_key.withheld/{uuid.uuid4().hex}",
            {
                "messages": {
                    world.bot_user_id: {
                        app.matrix.client.device_id: {
                            "algorithm": "m.megolm.v1.aes-sha2",
                            "room_id": room_id,
                            "session_id": session_id,
                            "sender_key": keys["curve25519"],
                            "code": "m.unverified",
                            "reason": "Device not verified",
                        }
                    }
                }
            },
        )
        reply = await user.wait_reply(room_id, world.bot_user_id, question)
        assert reply is not None, "an undecryptable message was silently dropped"
        assert "m.unverified" in reply.event.body and "send it again" in reply.event.body
        follow = await user.send(room_id, "!ping")
        follow_reply = await user.wait_reply(room_id, world.bot_user_id, follow)
        assert follow_reply is not None and "pong" in follow_reply.event.body
        await asyncio.sleep(3)  # past another grace period: still one notice
        assert len(await _replies(user, room_id, world.bot_user_id, question)) == 1
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{world.web_port}/metrics") as response:
                metrics = await response.text()
        assert 'helpdesk_undecryptable_total{reason="m.unverified"} 1.0' in metrics
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"{synapse.url}/_matrix/client/v3/sync",
                params={"timeout": "0"},
                headers={"Authorization": f"Bearer {other_token}"},
            ) as response:
                to_device = (await response.json())["to_device"]["events"]
        requests = [
            e
            for e in to_device
            if e["type"] == "m.room_key_request"
            and e["sender"] == world.bot_user_id
            and e["content"]["body"]["session_id"] == session_id
        ]
        assert requests, to_device
    finally:
        await user.close()
