"""Decrypted content is the sender's claim: never room state, never a relation."""

from __future__ import annotations

import itertools
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


async def _raw_encrypted(user: E2EEUser, room_id: str, payload: dict) -> str:
    """Send ``payload`` encrypted with the user's room session, exactly as given."""
    content = user.client.olm.group_encrypt(room_id, payload)
    # Not room_send: nio would encrypt the encrypted content a second time.
    async with aiohttp.ClientSession() as http:
        async with http.put(
            f"{user.client.homeserver}/_matrix/client/v3/rooms/{quote(room_id)}"
            f"/send/m.room.encrypted/{uuid.uuid4().hex}",
            json=content,
            headers={"Authorization": f"Bearer {user.client.access_token}"},
        ) as response:
            assert response.status == 200, await response.text()
            return (await response.json())["event_id"]


async def _e2ee(synapse: LocalSynapse, tmp_path: Path, name: str) -> E2EEUser:
    local = f"{name}-{next(_seq)}"
    return await E2EEUser.create(synapse, local, tmp_path / local)


async def test_forged_member_in_ciphertext_grants_nothing(
    synapse: LocalSynapse, world: BotWorld, tmp_path: Path
) -> None:
    await world.lead.request(
        "PUT",
        f"/_matrix/client/v3/rooms/{world.triage}/state/m.room.encryption/",
        {"algorithm": "m.megolm.v1.aes-sha2"},
    )
    mallory = await _e2ee(synapse, tmp_path, "mallory")
    outsider = f"@outsider-{uuid.uuid4().hex[:8]}:{synapse.server_name}"
    bot = InProcessBot(world.settings())
    app = await bot.start()
    try:
        await wait_joined(world, world.triage)
        await world.lead.invite(world.triage, mallory.user_id)
        await mallory.client.join(world.triage)
        await mallory.wait_joined(world.triage, world.bot_user_id)
        first = await mallory.send(world.triage, "!ping")  # shares mallory's room key
        assert await mallory.wait_reply(world.triage, world.bot_user_id, first) is not None
        await _raw_encrypted(
            mallory,
            world.triage,
            {
                "type": "m.room.member",
                "state_key": outsider,
                "content": {"membership": "join"},
            },
        )
        after = await mallory.send(world.triage, "!ping")
        assert await mallory.wait_reply(world.triage, world.bot_user_id, after) is not None
        assert outsider not in app.matrix.joined_members(world.triage)
        assert not app.services.is_security_team(outsider)
        assert app.services.is_security_team(mallory.user_id)  # the check can pass
    finally:
        await bot.stop()
        await mallory.close()


async def test_forged_relation_in_ciphertext_is_ignored(
    synapse: LocalSynapse, world: BotWorld, running_bot: InProcessBot, tmp_path: Path
) -> None:
    alice = await _e2ee(synapse, tmp_path, "alice")
    try:
        room_id = await alice.create_encrypted_dm(world.bot_user_id)
        await alice.wait_joined(room_id, world.bot_user_id)
        await alice.send(room_id, "hello")  # shares alice's room key
        bogus = "$" + uuid.uuid4().hex
        forged = await _raw_encrypted(
            alice,
            room_id,
            {
                "type": "m.room.message",
                "content": {
                    "msgtype": "m.text",
                    "body": "!ping",
                    "m.relates_to": {
                        "rel_type": "m.thread",
                        "event_id": bogus,
                        "is_falling_back": True,
                        "m.in_reply_to": {"event_id": bogus},
                    },
                },
            },
        )
        reply = await alice.wait_reply(room_id, world.bot_user_id, forged)
        assert reply is not None, "the bot did not answer (its reply was rejected?)"
        relates = reply.source["content"]["m.relates_to"]
        assert relates.get("rel_type") != "m.thread"
        assert bogus not in str(relates)
    finally:
        await alice.close()
