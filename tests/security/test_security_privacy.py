"""``!privacy`` and ``!forget me`` (both databases)."""

from __future__ import annotations

from sqlalchemy import select

from bot.features.incidents.models import Incident
from bot.features.tickets.models import Ticket
from bot.matrix.rooms import remember_direct_room
from bot.storage import Database
from bot.storage.models import DirectRoom
from tests.support.desk import ALICE, LEAD, Desk

SECRET = "my-cat-is-called-sudo"


async def answer(desk: Desk, body: str, **kwargs: object) -> str:
    msg, _ = await desk.say(body, **kwargs)
    row = await desk.reply_to(msg.event_id)
    assert row is not None
    return str(row.content["body"])


async def test_security_privacy_and_forget_me(db: Database) -> None:
    desk = Desk(db)
    await desk.say(f"!ticket {SECRET} one", sender=ALICE)
    await desk.say(f"!ticket anonymous {SECRET} two", sender=ALICE)
    await desk.say(f"!ticket {SECRET} still open", sender=ALICE)
    await desk.say(f"!incident device {SECRET}", sender=ALICE)
    for ref in ("T-1", "T-2"):
        await desk.say(f"!close {ref} answered", sender=LEAD, room="triage")
    await desk.say("!status INC-1 closed", sender=LEAD, room="triage")
    await desk.mark_sent()
    await remember_direct_room(db, ALICE, desk.dm_of(ALICE))  # as the outbox does

    # Asked in the public room: answered privately.
    public = await answer(desk, "!privacy", sender=ALICE, room="helpdesk")
    assert "direct message" in public and "T-1" not in public
    summary = (await desk.to_dm(ALICE))[-1]
    assert "T-1, T-3" in summary and "T-2" in summary and "INC-1" in summary
    assert "anonymous" in summary and "forget me" in summary
    assert "direct-message room" in summary

    assert "direct message" in await answer(desk, "!forget me", sender=ALICE, room="helpdesk")
    done = await answer(desk, "!forget me", sender=ALICE)
    assert "T-1" in done and "T-2" in done and "INC-1" in done
    assert "T-3: still open" in done and "Kept" in done
    async with db.sessions() as session:
        tickets = {t.id: t for t in await session.scalars(select(Ticket))}
        incident = (await session.scalars(select(Incident))).one()
        assert await session.get(DirectRoom, ALICE) is None
    assert tickets[1].text is None and tickets[1].reporter_id is None
    assert tickets[2].text is None and tickets[2].reporter_hash is None
    assert tickets[3].text is not None and tickets[3].reporter_id == ALICE
    assert incident.reporter != ALICE and SECRET not in incident.summary
    after = await answer(desk, "!privacy", sender=ALICE)
    assert "T-1" not in after and "T-2" not in after and "INC-1" not in after
    assert "T-3" in after


async def test_security_forget_only_for_me(db: Database) -> None:
    desk = Desk(db)
    only_me = "Say !forget me (you can only ask for yourself)."
    for body in ("!forget", "!forget you", "!forget me please", "!forget @bob:test"):
        assert (await answer(desk, body, sender=ALICE)).startswith(only_me), body
    # The usage error comes first, then the privacy check.
    assert (await answer(desk, "!forget bob", sender=ALICE, room="helpdesk")).startswith(only_me)
    assert "direct message" in await answer(desk, "!forget ME", sender=ALICE, room="helpdesk")
