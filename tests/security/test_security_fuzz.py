"""Hostile input: the router fed arbitrary bodies, HTML, relations and unicode.

Whatever arrives: no unexpected error ("something went wrong"), every HTML part the bot
sends is built from escaped text (only the bot's own tags appear), and nothing private
(a ticket's or an incident's text) is ever sent to the public room or a group room.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands.context import RoomKind
from bot.storage import Database
from tests.support.desk import ALICE, HELPDESK, LEAD, Desk

PRIVATE = "PRIVATE-zq81"
MALLORY = "@mallory:test"
GROUP = "!group:test"
ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "blockquote",
    "h1", "h2", "h3", "h4", "table", "thead", "tbody", "tr", "th", "td", "hr", "del", "b", "i",
    "mx-reply",
}  # fmt: skip
_TAG = re.compile(r"<\s*/?\s*([A-Za-z][A-Za-z0-9-]*)")
VERBS = [
    "ticket", "incident", "show", "ack", "assign", "status", "note", "export", "tickets",
    "mytickets", "comment", "reply", "close", "reopen", "claim", "sev", "update", "owner",
    "help", "privacy", "forget", "tip", "whoami", "incidents", "ping",
]  # fmt: skip
IDS = ["T-1", "INC-1", "1", "INC-²", "T-٣", "#1", "INC-99999999999", "@lead:test", "me"]
hostile_text = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            '<a href="javascript:x">x</a>',
            "**bold** [l](http://x) `c` | a | b |",
            "\u202e\u0000\ufeff\U0001f600",
            "x" * 9000,
            "w" * 3000,
            "> quoted\n> @bot:test said",
        ]
    ),
)
command = st.builds(
    lambda verb, args: f"!{verb} {' '.join(args)}",
    st.sampled_from(VERBS),
    st.lists(st.one_of(st.sampled_from(IDS), hostile_text), max_size=3),
)
message = st.tuples(
    st.one_of(command, hostile_text),
    st.sampled_from([ALICE, LEAD, MALLORY]),
    st.sampled_from(["helpdesk", "triage", "dm", GROUP]),
    st.one_of(st.none(), hostile_text),  # formatted_body
    st.one_of(st.none(), st.sampled_from(["$ev1", "$nope", "$sent-1"])),  # in_reply_to
    st.one_of(st.none(), st.sampled_from(["$ev2", "$sent-2"])),  # thread_root
)


@pytest.fixture
async def desk(db: Database, db_url: str) -> AsyncIterator[Desk]:
    if not db_url.startswith("sqlite"):
        pytest.skip("the router's handling does not depend on the database here")
    d = Desk(db)
    await d.say(f"!ticket {PRIVATE} ticket", sender=ALICE)
    await d.say(f"!incident device {PRIVATE} incident", sender=ALICE)
    await d.mark_sent()
    yield d
    await d.close()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(messages=st.lists(message, min_size=1, max_size=6))
async def test_security_router_fuzz(desk: Desk, messages: list[tuple]) -> None:
    before = len(await desk.rows())
    for body, sender, room, formatted, reply_to, thread in messages:
        kind = RoomKind.OTHER if room == GROUP else None
        await desk.say(
            body,
            sender=sender,
            room=room,
            kind=kind,
            formatted_body=formatted,
            in_reply_to=reply_to,
            thread_root=thread,
        )
    for row in (await desk.rows())[before:]:
        body = str(row.content.get("body", ""))
        assert "something went wrong" not in body, body
        html = str(row.content.get("formatted_body", ""))
        assert set(_TAG.findall(html)) <= ALLOWED_TAGS, html
        if row.room_id in (HELPDESK, GROUP):
            assert PRIVATE not in body and PRIVATE not in html, body
