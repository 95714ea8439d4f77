"""Tickets through the real router and database (SQLite and PostgreSQL), no homeserver."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.tickets import repository as repo
from bot.features.tickets.jobs import nudge_new_tickets, purge_old_text
from bot.features.tickets.models import Ticket, TicketComment, TicketEvent
from bot.storage import Database
from tests.tickets.helpers import ALICE, LEAD, MALLORY, MEMBER, TRIAGE, Desk

SECRET = "my laptop password is hunter2 and I pasted it in a phishing page"


async def _ticket(desk: Desk, number: int) -> Ticket:
    async with desk.db.sessions() as session:
        ticket = await session.get(Ticket, number)
        assert ticket is not None
        return ticket


async def test_tickets_file_in_public_room_continues_in_dm(db: Database) -> None:
    desk = Desk(db)
    ev = await desk.say(ALICE, f"!ticket #access {SECRET}", room="helpdesk")
    public = await desk.answer(ev)
    assert SECRET not in public and "hunter2" not in public
    assert "T-1" in public and "DM" in public
    further = await desk.sent_after(ev)
    dm = [r for r in further if r.dm_user_id == ALICE]
    triage = [r for r in further if r.room_id == TRIAGE]
    assert len(dm) == 1 and len(triage) == 1
    assert "no judgement" in dm[0].content["body"]
    assert LEAD in dm[0].content["body"] and MEMBER in dm[0].content["body"]
    assert "#access" in triage[0].content["body"] and ALICE in triage[0].content["body"]
    ticket = await _ticket(desk, 1)
    assert (ticket.state, ticket.tags, ticket.reporter_id) == ("new", "access", ALICE)


async def test_tickets_empty_ticket_explains(db: Database) -> None:
    desk = Desk(db)
    ev = await desk.say(ALICE, "!ticket")
    assert "no judgement" in (await desk.answer(ev)) and "What happens next" in (
        await desk.answer(ev)
    )
    assert await _count(desk, Ticket) == 0


async def _count(desk: Desk, model: type) -> int:
    async with desk.db.sessions() as session:
        return len(list(await session.scalars(select(model))))


async def test_tickets_triage_lifecycle(db: Database) -> None:
    desk = Desk(db)
    await desk.say(ALICE, f"!ticket {SECRET}")
    ev = await desk.say(MEMBER, "!claim T-1", room="triage")
    assert "yours" in await desk.answer(ev)
    assert (await _ticket(desk, 1)).state == "in_progress"
    ev = await desk.say(MEMBER, "!reply 1 Change it now, then tell us", room="triage")
    relays = [r for r in await desk.sent_after(ev) if r.room_id == desk.dm_of(ALICE)]
    assert "Change it now" in relays[0].content["body"]
    ev = await desk.say(LEAD, "!note T-1 internal thought", room="triage")
    assert not [r for r in await desk.sent_after(ev) if r.room_id != TRIAGE]
    ev = await desk.say(LEAD, "!status T-1 waiting on reporter", room="triage")
    assert (await _ticket(desk, 1)).state == "waiting"
    ev = await desk.say(LEAD, "!close T-1 answered all good", room="triage")
    ticket = await _ticket(desk, 1)
    assert (ticket.state, ticket.resolution) == ("closed", "answered")
    told = [r.content["body"] for r in await desk.sent_after(ev)]
    assert any("closed (answered)" in b and "all good" in b for b in told)
    ev = await desk.say(LEAD, "!reopen T-1", room="triage")
    assert (await _ticket(desk, 1)).state == "in_progress"
    ev = await desk.say(LEAD, "!show T-1", room="triage")
    shown = await desk.answer(ev)
    for expected in (SECRET, "internal thought", "claimed", "waiting on reporter", MEMBER):
        assert expected in shown


async def test_tickets_outsider_refused_everything(db: Database) -> None:
    desk = Desk(db)
    await desk.say(ALICE, f"!ticket {SECRET}")
    for command in (
        "!tickets all",
        "!show T-1",
        "!claim T-1",
        "!assign T-1 @mallory:test",
        "!reply T-1 hi",
        "!note T-1 hi",
        "!status T-1 triaged",
        "!close T-1 fixed",
        "!reopen T-1",
        "!mytickets T-1",
        "!comment T-1 let me in",
    ):
        ev = await desk.say(MALLORY, command)
        answer = await desk.answer(ev)
        assert SECRET not in answer
        assert "security team" in answer or "of yours" in answer, (command, answer)
    ticket = await _ticket(desk, 1)
    assert (ticket.state, ticket.assignee) == ("new", None)
    assert await _count(desk, TicketComment) == 0


async def test_tickets_team_commands_refused_in_public_room(db: Database) -> None:
    desk = Desk(db)
    await desk.say(ALICE, f"!ticket {SECRET}")
    for command in ("!tickets", "!show T-1"):
        ev = await desk.say(LEAD, command, room="helpdesk")
        answer = await desk.answer(ev)
        assert SECRET not in answer and "privacy" in answer


async def test_tickets_anonymous_stores_no_reporter_id(db: Database) -> None:
    desk = Desk(db)
    ev = await desk.say(ALICE, f"!ticket anonymous {SECRET}")
    assert "Anonymous" in await desk.answer(ev)
    # Queued under a key of its own (nothing ties it to Alice's message), so found by room.
    triage = next(r for r in await desk.queued() if r.room_id == TRIAGE)
    assert ALICE not in str(triage.content) and "anonymous" in triage.content["body"]
    await desk.mark_sent()
    reply_to_bot = (await desk.queued())[0].sent_event_id
    await desk.say(ALICE, "more details here", in_reply_to=reply_to_bot)
    await desk.say(LEAD, "!reply T-1 thanks", room="triage")
    ev = await desk.say(LEAD, "!show T-1", room="triage")
    assert ALICE not in await desk.answer(ev)
    async with desk.db.sessions() as session:
        rows = [
            *(await session.scalars(select(Ticket))),
            *(await session.scalars(select(TicketComment))),
            *(await session.scalars(select(TicketEvent))),
        ]
    for row in rows:
        values = [str(getattr(row, c.key)) for c in row.__table__.columns]
        assert not any(ALICE in v or "alice" in v for v in values), row
    ev = await desk.say(ALICE, "!mytickets")
    assert "T-1" in await desk.answer(ev)
    ev = await desk.say(MALLORY, "!mytickets")
    assert "T-1" not in await desk.answer(ev)


async def test_tickets_dm_reply_becomes_comment(db: Database) -> None:
    desk = Desk(db)
    await desk.say(ALICE, f"!ticket {SECRET}")
    await desk.say(LEAD, "!status T-1 waiting", room="triage")
    await desk.mark_sent()
    bot_message = (await desk.queued())[0].sent_event_id
    ev = await desk.say(ALICE, "> <@bot:test> quoted\n\nhere is more", in_reply_to=bot_message)
    assert "added to T-1" in await desk.answer(ev)
    async with desk.db.sessions() as session:
        comment = (await session.scalars(select(TicketComment))).one()
    assert (comment.text, comment.author, comment.kind) == ("here is more", ALICE, "comment")
    assert (await _ticket(desk, 1)).state == "triaged"
    ev = await desk.say(ALICE, "!comment T-1 and one more thing")
    assert "added" in await desk.answer(ev)
    # Another user replying to the same event id adds nothing.
    await desk.say(MALLORY, "sneaky", in_reply_to=bot_message)
    assert await _count(desk, TicketComment) == 2


async def test_tickets_close_reasons(db: Database) -> None:
    desk = Desk(db)
    await desk.say(ALICE, "!ticket first")
    await desk.say(ALICE, "!ticket second")
    await desk.say(ALICE, "!ticket third")
    ev = await desk.say(LEAD, "!close T-2 duplicate of T-1", room="triage")
    assert "duplicate of T-1" in await desk.answer(ev)
    ev = await desk.say(LEAD, "!close T-3 not a security matter dns", room="triage")
    told = " ".join(r.content["body"] for r in await desk.sent_after(ev))
    assert "!owner" in told and "not a security matter" in told
    ev = await desk.say(LEAD, "!close T-1 whatever", room="triage")
    assert "resolution" in await desk.answer(ev)
    assert (await _ticket(desk, 1)).state == "new"


async def test_tickets_close_duplicate_reads_the_original_and_the_text(db: Database) -> None:
    desk = Desk(db)
    for text in ("first", "second", "third"):
        await desk.say(ALICE, f"!ticket {text}")

    async def close(text: str) -> str:
        return await desk.answer(await desk.say(LEAD, text, room="triage"))

    assert (await close("!close T-2 duplicate")).startswith(
        "Duplicate of which ticket? !close T-2 duplicate T-N"
    )
    assert (await close("!close T-2 dup of x")).startswith("'x' is not a ticket id like T-12.")
    assert "can't be the original" in await close("!close T-2 duplicate T-2")
    ev = await desk.say(LEAD, "!close T-3 duplicate t1 same phish, handled there", room="triage")
    assert "duplicate of T-1" in await desk.answer(ev)
    told = " ".join(r.content["body"] for r in await desk.sent_after(ev))
    assert "same phish, handled there" in told
    assert (await _ticket(desk, 3)).duplicate_of == 1


async def test_tickets_nudge_once_per_interval(db: Database) -> None:
    desk = Desk(db, nudge_after="4h")
    await desk.say(ALICE, "!ticket help")
    desk.clock.advance(timedelta(hours=3, minutes=59))
    assert await nudge_new_tickets(desk.services) == 0
    desk.clock.advance(timedelta(minutes=2))
    assert await nudge_new_tickets(desk.services) == 1
    assert await nudge_new_tickets(desk.services) == 0
    desk.clock.advance(timedelta(hours=3))
    assert await nudge_new_tickets(desk.services) == 0
    desk.clock.advance(timedelta(hours=1))
    assert await nudge_new_tickets(desk.services) == 1
    nudges = [r for r in await desk.queued() if "Reminder" in r.content["body"]]
    assert len(nudges) == 2 and all(r.room_id == TRIAGE for r in nudges)
    await desk.say(LEAD, "!claim T-1", room="triage")
    desk.clock.advance(timedelta(hours=10))
    assert await nudge_new_tickets(desk.services) == 0


async def test_tickets_retention_purges_text_keeps_state(db: Database) -> None:
    desk = Desk(db, retention_days=30)
    await desk.say(ALICE, f"!ticket {SECRET}")
    await desk.say(ALICE, f"!ticket still open {SECRET}")
    await desk.say(LEAD, "!reply T-1 a reply", room="triage")
    await desk.say(LEAD, "!close T-1 fixed", room="triage")
    desk.clock.advance(timedelta(days=29))
    assert await purge_old_text(desk.services) == 0
    desk.clock.advance(timedelta(days=2))
    assert await purge_old_text(desk.services) == 1
    closed, still_open = await _ticket(desk, 1), await _ticket(desk, 2)
    assert closed.text is None and closed.state == "closed" and closed.resolution == "fixed"
    assert still_open.text is not None
    async with desk.db.sessions() as session:
        assert all(c.text is None for c in await session.scalars(select(TicketComment)))
    ev = await desk.say(LEAD, "!show T-1", room="triage")
    assert "purged" in await desk.answer(ev)


async def test_tickets_anonymous_in_public_room_relays_via_dm_room(db: Database) -> None:
    desk = Desk(db)
    ev = await desk.say(ALICE, f"!ticket anonymous #phish {SECRET}", room="helpdesk")
    public = await desk.answer(ev)
    assert "T-1" not in public and SECRET not in public and "delete" in public
    ticket = await _ticket(desk, 1)
    assert ticket.reporter_id is None and ticket.reporter_room_id is None
    # The way back is encrypted with the anonymity key (never in the database).
    assert ticket.reporter_route and ALICE not in ticket.reporter_route
    await desk.mark_sent()
    ev = await desk.say(LEAD, "!reply T-1 please reset it", room="triage")
    assert "Sent to the reporter" in await desk.answer(ev)
    relay = [r for r in await desk.queued() if "please reset it" in r.content.get("body", "")]
    # A private row under a key of its own: erased by the outbox once sent.
    assert relay[0].dm_user_id == ALICE and relay[0].private and relay[0].source_event_id is None


async def test_tickets_text_never_logged(db: Database, bot_logs: list[str]) -> None:
    desk = Desk(db, nudge_after="1h", retention_days=1)
    await desk.say(ALICE, f"!ticket #access {SECRET}", room="helpdesk")
    await desk.say(ALICE, f"!ticket anonymous {SECRET} again")
    await desk.mark_sent()
    await desk.say(ALICE, "!comment T-1 comment-text-xyzzy")
    desk.clock.advance(timedelta(hours=2))
    await nudge_new_tickets(desk.services)
    await desk.say(LEAD, "!claim T-1", room="triage")
    await desk.say(LEAD, "!reply T-1 reply-text-plugh", room="triage")
    await desk.say(LEAD, "!note T-1 note-text-plover", room="triage")
    await desk.say(LEAD, "!show T-1", room="triage")
    await desk.say(LEAD, "!close T-1 answered closing-text-quux", room="triage")
    desk.clock.advance(timedelta(days=2))
    await purge_old_text(desk.services)
    logged = "\n".join(bot_logs)
    assert "T-1" in logged  # the lifecycle was logged, by id
    for secret in ("hunter2", "xyzzy", "plugh", "plover", "quux"):
        assert secret not in logged
    assert ALICE not in [line for line in logged.splitlines() if "T-2" in line]


async def test_tickets_text_never_logged_when_the_database_refuses(
    db: Database, bot_logs: list[str]
) -> None:
    desk = Desk(db)

    async def refuse_insert(session: AsyncSession, *, ticket: Ticket) -> Ticket:
        ticket.filed_in = None  # type: ignore[assignment]  # NOT NULL: the insert fails
        session.add(ticket)
        await session.flush()
        return ticket

    with patch.object(repo, "add_ticket", refuse_insert):
        ev = await desk.say(ALICE, f"!ticket {SECRET}")
    assert "ref:" in await desk.answer(ev)  # the unexpected error was logged with its ref
    assert "hunter2" not in "\n".join(bot_logs)


async def test_tickets_too_many_tags_refused_plainly(db: Database) -> None:
    desk = Desk(db)
    tags = " ".join(f"#tag{i:02d}-{'x' * 25}" for i in range(12))  # over the tags column
    answer = await desk.answer(await desk.say(ALICE, f"!ticket {tags} help"))
    assert "Too many tags" in answer and "ref:" not in answer
    assert await _count(desk, Ticket) == 0
    ok = await desk.answer(await desk.say(ALICE, f"!ticket {' '.join(tags.split()[:7])} help"))
    assert "T-1" in ok


async def test_tickets_show_keeps_line_breaks_of_comments_in_html(db: Database) -> None:
    desk = Desk(db)
    await desk.say(ALICE, "!ticket help <please>")
    await desk.say(LEAD, "!note T-1 first line\nsecond line", room="triage")
    row = await desk.reply_to(await desk.say(LEAD, "!show T-1", room="triage"))
    assert row is not None
    html = row.content["formatted_body"]
    assert "first line<br/>second line" in html and "\n" not in html
    assert "&lt;please&gt;" in html


async def test_tickets_show_and_claim_read_ids_the_same_way(db: Database) -> None:
    desk = Desk(db)
    await desk.say(ALICE, "!ticket my badge stopped working")
    shown = {
        ref: await desk.answer(await desk.say(LEAD, f"!show {ref}", room="triage"))
        for ref in ("T-1", "t1", "T1", "#1", "1")
    }
    assert all("badge" in text for text in shown.values()), shown
    assert "is yours" in await desk.answer(await desk.say(LEAD, "!claim t1", room="triage"))
    refused = await desk.answer(await desk.say(LEAD, "!show X-1", room="triage"))
    assert "I don't know ids starting with X-" in refused


async def test_tickets_triage_verbs_usage_errors_come_from_their_declarations(
    db: Database,
) -> None:
    desk = Desk(db)
    await desk.say(ALICE, "!ticket my badge stopped working")
    bad_user = await desk.answer(await desk.say(LEAD, "!assign t1 bob", room="triage"))
    assert bad_user == (
        "Give a case id and a user id like @name:server.\nUsage: !assign T-N|INC-N @user"
    )
    no_case = await desk.answer(await desk.say(LEAD, "!show", room="triage"))
    assert no_case.startswith("Which case?")
    await desk.say(LEAD, "!note t1 first line\nsecond line", room="triage")
    shown = await desk.answer(await desk.say(LEAD, "!show T-1", room="triage"))
    assert "first line\nsecond line" in shown


async def test_tickets_list_and_own_tickets_arguments_keep_their_texts(db: Database) -> None:
    desk = Desk(db)
    await desk.say(ALICE, f"!ticket {SECRET}")

    async def said(user: str, text: str, room: str = "dm") -> str:
        return await desk.answer(await desk.say(user, text, room=room))

    assert (await said(LEAD, "!tickets some", "triage")).startswith(
        "Choose one of: new, open, mine, all."
    )
    assert (await said(LEAD, "!tickets NEW please", "triage")).startswith("Tickets (new):")
    assert "T-1" in await said(ALICE, "!mytickets t1 please")  # extra words: ignored
    assert "can't find a ticket T-2" in await said(ALICE, "!mytickets T-2")
    assert "claim code" in await said(ALICE, "!mytickets abcd efgh jkmn pqrs")
    # The privacy refusal comes before reading the argument.
    public = await said(ALICE, "!mytickets nonsense", "helpdesk")
    assert public.startswith("To keep it private")
