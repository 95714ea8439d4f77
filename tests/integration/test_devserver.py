"""The local Synapse and the test client work together against a real homeserver."""

from __future__ import annotations

import asyncio

import pytest

from bot.dev.devserver import LocalSynapse
from tests.support.mxclient import make_user, reply_to, text_of

pytestmark = pytest.mark.integration


async def test_devserver_message_reaches_other_user(synapse, matrix_user):
    alice = await matrix_user("alice")
    bob = await matrix_user("bob")
    room_id = await alice.create_room("lobby-" + alice.user_id[1:].split(":")[0], public=True)
    alias = f"#lobby-{alice.user_id[1:].split(':')[0]}:{synapse.server_name}"

    assert await bob.join(alias) == room_id
    event_id = await bob.send(room_id, "hello from bob", extra={"formatted_body": "<b>hi</b>"})

    seen = await alice.wait_for(lambda ev: ev.get("event_id") == event_id, timeout=10)
    assert seen is not None
    assert seen["room_id"] == room_id
    assert seen["sender"] == bob.user_id
    assert "hello from bob" in text_of(seen) and "<b>hi</b>" in text_of(seen)
    assert reply_to(seen) is None


async def test_devserver_registered_user_is_member(synapse, matrix_user):
    alice = await matrix_user("alice")
    carol = await matrix_user("carol")
    room_id = await alice.create_room(invite=[carol.user_id], name="private")

    await carol.wait_for(lambda ev: False, timeout=0.5)  # one sync records the invite
    assert room_id in carol.invites
    assert carol.user_id not in await alice.joined_members(room_id)  # invited, not joined

    await carol.join(room_id)
    assert set(await alice.joined_members(room_id)) == {alice.user_id, carol.user_id}


async def test_devserver_register_existing_user_logs_in(synapse):
    first = await asyncio.to_thread(synapse.register, "dave-again", "pw-1")
    second = await asyncio.to_thread(synapse.register, "dave-again", "pw-1")
    assert first["user_id"] == second["user_id"] == f"@dave-again:{synapse.server_name}"
    assert first["access_token"] != second["access_token"]
    assert second["device_id"]


async def test_devserver_reply_and_reaction_round_trip(matrix_user):
    alice = await matrix_user("alice")
    bob = await matrix_user("bob")
    room_id = await alice.create_dm(bob.user_id)
    await bob.join(room_id)
    question = await alice.send(room_id, "question?")
    answer = await bob.send(
        room_id, "answer", msgtype="m.notice",
        extra={"m.relates_to": {"m.in_reply_to": {"event_id": question}}},
    )  # fmt: skip
    await bob.react(room_id, question, "✅")

    got = await alice.wait_for_all(
        lambda ev: ev["sender"] == bob.user_id and ev["type"] in ("m.room.message", "m.reaction"),
        2,
        10,
    )
    by_type = {ev["type"]: ev for ev in got}
    assert reply_to(by_type["m.room.message"]) == question
    assert by_type["m.room.message"]["event_id"] == answer
    assert by_type["m.reaction"]["content"]["m.relates_to"]["key"] == "✅"


async def test_devserver_sync_backfills_limited_timeline(matrix_user):
    alice = await matrix_user("alice")
    bob = await matrix_user("bob")
    room_id = await alice.create_room(invite=[bob.user_id])
    await bob.join(room_id)
    await alice.drain()
    # Synapse returns at most 100 events per room per sync; the client must page back.
    sent = [await bob.send(room_id, f"burst {i}") for i in range(130)]

    got = await alice.wait_for_all(lambda ev: ev["sender"] == bob.user_id, 130, 30)
    assert [ev["event_id"] for ev in got] == sent


@pytest.mark.slow
async def test_devserver_restart_keeps_users_and_rooms(synapse_factory, matrix_user):
    hs = synapse_factory()
    alice = await matrix_user("alice", hs=hs)
    room_id = await alice.create_room()
    await alice.drain()
    port = hs.port

    await asyncio.to_thread(hs.restart, 0.5)

    assert hs.port == port
    event_id = await alice.send(room_id, "after restart")
    assert await alice.wait_for(lambda ev: ev.get("event_id") == event_id, timeout=10)


@pytest.mark.slow
async def test_devserver_default_rate_limits_apply(synapse_factory, matrix_user):
    hs: LocalSynapse = synapse_factory(relaxed_rate_limits=False)
    user = await make_user(hs, "eve")
    try:
        room_id = await user.create_room()
        # Synapse's default rc_message burst is 10 (room creation spends some of it): a
        # quick series must meet M_LIMIT_EXCEEDED, which send() waits out (about 5 s).
        sent = []
        while user.rate_limited == 0 and len(sent) < 12:
            sent.append(await user.send(room_id, f"m{len(sent)}"))
        assert user.rate_limited == 1
        assert len(set(sent)) == len(sent)
    finally:
        await user.close()
