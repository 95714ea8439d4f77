"""Membership and DM status from server-sent state only (no homeserver needed)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.matrix.membership import RoomStates

BOT, ALICE, BOB = "@bot:test", "@alice:test", "@bob:test"


def state(kind: str, key: str, content: dict, sender: str = ALICE) -> dict:
    return {"type": kind, "state_key": key, "content": content, "sender": sender}


def room(states: RoomStates, room_id: str, *, creator: str, join_rule: str = "invite") -> None:
    states.apply(room_id, state("m.room.create", "", {}, sender=creator))
    states.apply(room_id, state("m.room.join_rules", "", {"join_rule": join_rule}))
    for user in (creator, BOT if creator != BOT else ALICE):
        states.apply(room_id, state("m.room.member", user, {"membership": "join"}))


def test_security_dm_rules() -> None:
    s = RoomStates(BOT)
    room(s, "!opened", creator=BOT)
    assert s.dm_partner("!opened") == ALICE  # the bot opened it
    room(s, "!invited", creator=ALICE)
    assert s.dm_partner("!invited") is None  # no is_direct invite recorded
    s.direct_invites["!invited"] = ALICE
    assert s.dm_partner("!invited") == ALICE
    room(s, "!public", creator=ALICE, join_rule="public")
    s.direct_invites["!public"] = ALICE
    assert s.dm_partner("!public") is None
    s.apply("!invited", state("m.room.member", BOB, {"membership": "invite"}))
    assert s.dm_partner("!invited") is None  # someone else invited
    s.apply("!invited", state("m.room.member", BOB, {"membership": "leave"}))
    assert s.dm_partner("!invited") == ALICE
    s.apply(
        "!invited", state("m.room.history_visibility", "", {"history_visibility": "world_readable"})
    )
    assert s.dm_partner("!invited") is None


def test_security_leave_forgets_members_and_reread_replaces() -> None:
    s = RoomStates(BOT)
    room(s, "!triage", creator=ALICE)
    s.apply("!triage", state("m.room.member", BOB, {"membership": "join"}))
    assert s.joined("!triage") == {ALICE, BOT, BOB}
    s.replace_joined("!triage", {ALICE, BOT})
    assert s.joined("!triage") == {ALICE, BOT}
    s.forget("!triage")  # the bot was kicked (the sync's leave section)
    assert s.joined("!triage") == set()
    room(s, "!other", creator=ALICE)
    s.apply("!other", state("m.room.member", BOT, {"membership": "leave"}))
    assert s.joined("!other") == set()  # not in it: nobody counts


def test_security_decrypted_member_events_are_ignored() -> None:
    @dataclass
    class Event:
        source: dict
        decrypted: bool = False

    s = RoomStates(BOT)
    room(s, "!triage", creator=ALICE)
    forged = state("m.room.member", BOB, {"membership": "join"}, sender=BOB)
    s.apply_sync("!triage", [Event(forged, decrypted=True)])
    assert BOB not in s.joined("!triage")
    s.apply_sync("!triage", [Event(forged)])  # the same event from the server: it counts
    assert BOB in s.joined("!triage")
