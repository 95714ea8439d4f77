"""Persistent Matrix bookkeeping: the sync token, when the bot joined each room, DM rooms."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import select

from bot.matrix.events import event_time, own_membership
from bot.matrix.membership import RoomState
from bot.storage import Database
from bot.storage.base import utcnow
from bot.storage.dialect import dialect_of, insert_on
from bot.storage.models import DirectRoom, KeyValue, RoomMembership

if TYPE_CHECKING:
    from bot.settings import Settings


def _token_key(user_id: str) -> str:
    return f"sync_token:{user_id}"


async def load_sync_token(db: Database, user_id: str) -> str | None:
    """The token of the last fully handled sync, or None before the first one."""
    async with db.sessions() as session:
        row = await session.get(KeyValue, _token_key(user_id))
        return row.value if row else None


async def save_sync_token(db: Database, user_id: str, token: str) -> None:
    """Advance the stored token (only after every event of that sync was handled).

    Relaxed durability: a token lost at a power cut only replays events whose handled
    marks are durable (see :attr:`Database.relaxed_sessions`).
    """
    values = {"key": _token_key(user_id), "value": token, "updated_at": utcnow()}
    async with db.relaxed_sessions.begin() as session:
        # Core, the statement built once: an ORM execute of a new upsert cost twice the CPU.
        connection = await session.connection()
        await connection.execute(_token_upsert(dialect_of(session)), values)


@cache
def _token_upsert(dialect: str) -> Any:
    """The upsert of one kv row, built once per dialect."""
    insert = insert_on(dialect, KeyValue)
    new = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=["key"], set_={"value": new.value, "updated_at": new.updated_at}
    )


def is_own_join(event: dict[str, Any], bot_user_id: str) -> bool:
    """Whether ``event`` is the bot joining (not a profile change of an existing join)."""
    if own_membership(event, bot_user_id) != "join":
        return False
    prev = ((event.get("unsigned") or {}).get("prev_content") or {}).get("membership")
    return prev != "join"  # a join after a join is only a profile change


def direct_invite_time(events: list[dict[str, Any]], bot_user_id: str) -> datetime | None:
    """When the bot was invited into a DM (``is_direct``), if ``events`` show it.

    Element opens a DM with its first message: the invite and that message reach the
    homeserver before the bot joins, so in a DM the invite, not the join, is where the
    answerable history starts. Group rooms keep the join.
    """
    invites = [
        e
        for e in events
        if own_membership(e, bot_user_id) == "invite"
        and isinstance(e.get("content"), dict)
        and e["content"].get("is_direct") is True
    ]
    if not invites:
        return None
    return event_time(max(invites, key=lambda e: int(e.get("origin_server_ts", 0))))


def count_answerable(
    events: list[dict[str, Any]], bot_user_id: str, since: datetime, until: datetime
) -> int:
    """Messages and reactions of others in ``[since, until)``: what a cut-off skips."""
    return sum(
        1
        for e in events
        if e.get("type") in ("m.room.message", "m.room.encrypted", "m.reaction")
        and e.get("sender") != bot_user_id
        and since <= event_time(e) < until
    )


async def joined_at(
    db: Database,
    room_id: str,
    events: list[dict[str, Any]],
    bot_user_id: str,
    now: datetime,
    known: dict[str, datetime],
) -> datetime:
    """When the bot (last) joined ``room_id``; events before that are never answered.

    Learnt from the bot's own join event when a sync carries it (for a DM, from the
    ``is_direct`` invite before it: see :func:`direct_invite_time`); a room first seen
    without one counts as joined ``now``, so old history is never answered. ``known``
    is the caller's cache of earlier answers, so a sync without a join reads nothing.
    """
    joins = [e for e in events if is_own_join(e, bot_user_id)]
    if not joins and room_id in known:
        return known[room_id]
    async with db.sessions.begin() as session:
        row = await session.get(RoomMembership, room_id)
        if joins:
            latest = max(joins, key=lambda e: int(e.get("origin_server_ts", 0)))
            when = event_time(latest)
            invited = direct_invite_time(events, bot_user_id)
            if invited is not None and invited <= when:
                when = invited
            if row is None:
                row = RoomMembership(
                    room_id=room_id, joined_at=when, join_event_id=latest.get("event_id")
                )
                session.add(row)
            elif when > row.joined_at and latest.get("event_id") != row.join_event_id:
                row.joined_at, row.join_event_id = when, latest.get("event_id")
        elif row is None:
            row = RoomMembership(room_id=room_id, joined_at=now, join_event_id=None)
            session.add(row)
        result = row.joined_at
    known[room_id] = result
    return result


def answerable_since(joined_at: datetime, now: datetime, retention_days: int) -> datetime:
    """The oldest event time the bot may answer in a room.

    Not before it joined, and not older than the handled marks it keeps: a lost sync
    token must never make the bot answer old messages a second time.
    """
    return max(joined_at, now - timedelta(days=retention_days))


async def remember_direct_room(db: Database, user_id: str, room_id: str) -> None:
    """Use ``room_id`` (a DM the user opened with the bot) to reach ``user_id`` later."""
    async with db.sessions.begin() as session:
        row = await session.get(DirectRoom, user_id)
        if row is None:
            session.add(DirectRoom(user_id=user_id, room_id=room_id))
        else:
            row.room_id = room_id


_INVITE_PREFIX = "direct_invite:"


async def remember_direct_invite(db: Database, user_id: str, room_id: str) -> None:
    """Record that ``user_id`` invited the bot to ``room_id`` as a DM (``is_direct``)."""
    async with db.sessions.begin() as session:
        key = _INVITE_PREFIX + room_id
        row = await session.get(KeyValue, key)
        if row is None:
            session.add(KeyValue(key=key, value=user_id))
        else:
            row.value = user_id


async def load_direct_invites(db: Database) -> dict[str, str]:
    """Room id -> the user who invited the bot there as a DM (or whom it opened it for)."""
    async with db.sessions() as session:
        found = {row.room_id: row.user_id for row in await session.scalars(select(DirectRoom))}
        rows = await session.scalars(
            select(KeyValue).where(KeyValue.key.startswith(_INVITE_PREFIX))
        )
        found.update({row.key.removeprefix(_INVITE_PREFIX): row.value for row in rows})
    return found


PIN_KEY = "pinned_room:triage"


async def load_pin(db: Database) -> str | None:
    """The triage room id pinned at the first start (None before it)."""
    async with db.sessions() as session:
        row = await session.get(KeyValue, PIN_KEY)
        return row.value if row else None


async def save_pin(db: Database, room_id: str) -> None:
    """Pin ``room_id`` as the triage room (the team is whoever is joined there)."""
    async with db.sessions.begin() as session:
        row = await session.get(KeyValue, PIN_KEY)
        if row is None:
            session.add(KeyValue(key=PIN_KEY, value=room_id))
        else:
            row.value = room_id


def triage_problems(state: RoomState) -> list[str]:
    """Why a triage room is not private enough (empty: it is)."""
    problems = []
    if state.join_rule != "invite":
        problems.append(f"its join rule is {state.join_rule or 'unknown'}, not invite-only")
    if state.history_visibility == "world_readable":
        problems.append("its history is world-readable")
    if not state.encrypted:
        problems.append("it is not encrypted")
    return problems


async def resolve_alias(homeserver: str, alias: str) -> str:
    """The room id ``alias`` points to now (the room directory needs no login).

    Raises:
        LookupError: the alias does not resolve.
    """
    import aiohttp

    url = f"{homeserver}/_matrix/client/v3/directory/room/{quote(alias, safe='')}"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        body = await response.json(content_type=None)
        if response.status != 200 or not isinstance(body, dict) or "room_id" not in body:
            raise LookupError(f"{alias} does not resolve ({response.status})")
        return str(body["room_id"])


async def repin(settings: Settings) -> tuple[str | None, str]:
    """Pin the room ``rooms.triage`` points to now; returns (old pin, new pin)."""
    ref = settings.rooms.triage
    new = ref if ref.startswith("!") else await resolve_alias(settings.matrix.homeserver, ref)
    db = Database(settings.database.url)
    try:
        old = await load_pin(db)
        await save_pin(db, new)
    finally:
        await db.close()
    return old, new
