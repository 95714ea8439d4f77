"""The handled mark is the claim: of two transactions claiming one event, one wins.

On both dialects: the second insert of the same event id waits for the first
transaction (PostgreSQL: the unique key; SQLite: the write lock) and then fails, which
:func:`bot.commands.claims.claim` reports as :class:`AlreadyHandled`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.commands.claims import AlreadyHandled, check_unclaimed, claim
from bot.storage import Database
from bot.storage.models import HandledEvent

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def marks(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(HandledEvent)) or 0)


async def test_claiming_a_handled_event_again_is_already_handled(db: Database) -> None:
    async with db.sessions.begin() as session:
        await claim(session, "$once", "!room", NOW)
    with pytest.raises(AlreadyHandled):
        async with db.sessions.begin() as session:
            await check_unclaimed(session, "$once")
    with pytest.raises(AlreadyHandled):  # past the early check, the insert itself refuses
        async with db.sessions.begin() as session:
            await claim(session, "$once", "!room", NOW)
    async with db.sessions() as session:
        stored = await session.get(HandledEvent, "$once")
    assert stored is not None and stored.room_id == "!room" and stored.handled_at == NOW
    assert await marks(db) == 1


async def test_concurrent_claims_of_one_event_one_wins(db: Database) -> None:
    """Both checked before either claimed (two replicas): the second loses at its insert."""
    claimed, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with db.sessions.begin() as session:
            await check_unclaimed(session, "$race")
            await claim(session, "$race", "!room", NOW)
            claimed.set()
            await release.wait()

    async def second() -> None:
        async with db.sessions.begin() as session:
            await check_unclaimed(session, "$race")  # the first has not committed yet
            await claimed.wait()
            await claim(session, "$race", "!room", NOW)

    winner = asyncio.create_task(first())
    loser = asyncio.create_task(second())
    await claimed.wait()
    await asyncio.sleep(0.2)
    assert not loser.done()  # waits for the first transaction
    release.set()
    await winner
    with pytest.raises(AlreadyHandled):
        await loser
    assert await marks(db) == 1


async def test_a_handlers_own_constraint_error_is_answered_not_taken_for_a_duplicate(
    db: Database,
) -> None:
    """Only the claim's own insert means "handled before"; a handler's failed write is a
    defect like any other: the person gets an error reference and the event is claimed."""
    from bot.commands.context import CommandContext, Reply
    from bot.commands.registry import Command
    from tests.support.desk import MEMBER, Desk

    desk = Desk(db)
    async with db.sessions.begin() as session:
        await claim(session, "$taken", "!elsewhere", NOW)

    async def clash(ctx: CommandContext) -> Reply:
        ctx.session.add(HandledEvent(event_id="$taken", room_id="!elsewhere", handled_at=NOW))
        return Reply("done")

    desk.router.add(Command("clash", clash, "writes a row that exists (test only)"))
    try:
        msg, handled = await desk.say("!clash", sender=MEMBER, room="helpdesk")
        assert handled
        reply = await desk.reply_to(msg.event_id)
        assert reply is not None and "something went wrong" in reply.content["body"]
        assert await desk.handled(msg.event_id)
    finally:
        await desk.close()
