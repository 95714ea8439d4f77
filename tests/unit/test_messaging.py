"""The messaging layer: Markdown written once, user text as data, keys, subjects."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.maintenance import PRUNED_CONTENT, prune
from bot.matrix.content import (
    MARKDOWN_KEY,
    MAX_FIELD_BYTES,
    encoded_size,
    legacy_mention_possible,
    message_content,
    without_redundant_mentions,
)
from bot.matrix.render import _chat, _plain_of, event_content, render, to_html, to_plain
from bot.messaging import (
    InThread,
    Message,
    Messenger,
    ReplyTo,
    Subject,
    ToPerson,
    ToRoom,
    content_for,
    md,
)
from bot.messaging.messenger import stored_content
from bot.outbox import Outbox, txn_id_for
from bot.storage import Database
from bot.storage.models import OutboxMessage

ROOM = "!triage:test"
HOSTILE = [
    "*not bold* and _not em_",
    "<b>bold</b> <img src=x onerror=alert(1)>",
    "[click](https://evil.example)",
    "`code` and ``two``",
    "@room look here",
    "# not a heading",
    "1. not a list\n- nor this\n> nor a quote",
    "a\\b and &amp; and {prefix}",
    "text\n===",
    "    starts indented (not a code block)\nnext",
    "def f():\n    return 1\n  - not a bullet",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_messaging_escaped_user_text_renders_literally(text: str) -> None:
    plain, html = render(f"Said: {md.escape(text)}")
    assert plain == f"Said: {text}"
    for tag in ("<b>", "<img", "<a ", "<em>", "<strong>", "<code>", "<h1>", "<ol>", "<li>"):
        assert tag not in html
    assert "<br/>" in html or "\n" not in text  # line breaks kept


def test_messaging_escape_keeps_indentation_visible_in_html() -> None:
    plain, html = render(md.escape("config:\n  key: value\n\tdeep"))
    assert plain == "config:\n  key: value\n    deep"  # a tab counts as four spaces
    assert html == "config:<br/>\u00a0\u00a0key: value<br/>\u00a0\u00a0\u00a0\u00a0deep"
    assert "<pre>" not in render(md.escape("    four spaces first"))[1]


def test_messaging_escape_keeps_prefix_placeholder_out_of_substitution() -> None:
    body = md.with_prefix(f"Send `{{prefix}}ticket`; you said {md.escape('{prefix}')}", "?")
    plain, _ = render(body)
    assert plain == "Send ?ticket; you said {prefix}"


def test_messaging_mention_is_a_pill_and_plain_user_id() -> None:
    plain, html = render(f"Paging {md.mention('@bob:test')}.")
    assert plain == "Paging @bob:test."
    assert '<a href="https://matrix.to/#/@bob:test">@bob:test</a>' in html


def test_messaging_code_survives_backticks_in_user_text() -> None:
    plain, html = render(md.code("a `tick` here"))
    assert plain == "a `tick` here"
    assert html.startswith("<code>") and html.endswith("</code>")


def test_messaging_render_markdown_once_to_html_and_plain() -> None:
    body = "🚨 **New incident INC-1**: x\nReported by y\n\n- one\n- two\n\nSee [the guide](https://example.org/g)."
    plain, html = render(body)
    assert plain == (
        "🚨 New incident INC-1: x\nReported by y\n\n• one\n• two\n\n"
        "See the guide (https://example.org/g)."
    )
    assert html.startswith("<p>🚨 <strong>New incident INC-1</strong>: x<br/>Reported by y</p>")
    assert "<ul><li>one</li><li>two</li></ul>" in html
    assert '<a href="https://example.org/g">the guide</a>' in html


def test_messaging_render_drops_unsafe_links_and_unwraps_one_paragraph() -> None:
    assert to_html("just text") == "just text"
    assert "href" not in to_html("[x](javascript:alert(1))")
    assert to_plain("a  \nb") == "a\nb"


def _reference(text: str) -> tuple[str, str]:
    """markdown-it's own ``render`` and a separate parse for the plain text (no shortcut)."""
    html = _chat.render(text).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    html = re.sub(r">\n+(?=<)", ">", html.replace("<br />\n", "<br/>"))
    return _plain_of(_chat.parse(text)), html


# Plain-looking text and everything Markdown could make of it (punctuation at line starts,
# spaces at ends, blank lines, markup characters, letters beyond ASCII).
_ALPHABET = st.sampled_from(list("ab Zé1\n ,.;:?!'()/@%+=-*_`#>|~<&[]\\\"\t"))


@settings(max_examples=600, deadline=None)
@given(st.text(_ALPHABET, max_size=30))
def test_messaging_render_shortcuts_give_markdown_its_own_output(text: str) -> None:
    assert render(text) == _reference(text)
    assert render(text) == _reference(text)  # the remembered answer too


@pytest.mark.parametrize(
    "text", ["pong", "Hello there, you.\nSecond line: (yes) 50% done!", "1. x", "a\n===", "a  b"]
)
def test_messaging_render_plain_lines_as_markdown_would(text: str) -> None:
    assert render(text) == _reference(text)


def test_messaging_content_targets_relations_mentions_and_msgtype() -> None:
    reply = content_for(Message("hi", to=ReplyTo(ROOM, "$q"), key="k", mentions=("@a:test",)))
    assert reply["msgtype"] == "m.notice"
    assert reply["m.relates_to"] == {"m.in_reply_to": {"event_id": "$q"}}
    assert reply["m.mentions"] == {"user_ids": ["@a:test"]}
    thread = content_for(Message("hi", to=InThread(ROOM, "$root"), key="k", notice=False))
    assert thread["msgtype"] == "m.text"
    assert thread["m.relates_to"]["rel_type"] == "m.thread"
    assert thread["m.relates_to"]["event_id"] == "$root"


def test_messaging_message_needs_a_key() -> None:
    with pytest.raises(ValueError):
        Message("hi", to=ToRoom(ROOM), key="")


def test_messaging_subject_round_trips() -> None:
    assert Subject.parse(str(Subject("incident", 12, "post"))) == Subject("incident", 12, "post")
    assert Subject.parse("ticket:T-3:dm:x") == Subject("ticket", "T-3", "dm:x")


async def test_messaging_post_is_idempotent_by_key(db: Database) -> None:
    message = Message("**once**", to=ToRoom(ROOM), key="incident:1:post")
    async with db.sessions.begin() as session:
        first = await Messenger.post(session, message)
        again = await Messenger.post(session, message)
    assert first == again == txn_id_for("incident:1:post")  # deterministic, as before
    async with db.sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage)))
    assert len(rows) == 1
    # The row keeps the Markdown; the text is rendered when sent.
    assert rows[0].content[MARKDOWN_KEY] == "**once**"
    assert "body" not in rows[0].content and "formatted_body" not in rows[0].content
    event = event_content(rows[0].content)
    assert event["body"] == "once"
    assert event["formatted_body"] == "<strong>once</strong>"
    assert MARKDOWN_KEY not in event


def test_messaging_stored_content_keeps_relations_and_mentions() -> None:
    message = Message(
        "hi " + md.mention("@a:test"),
        to=InThread(ROOM, "$root", in_reply_to="$q"),
        key="k",
        mentions=("@a:test",),
        notice=False,
    )
    stored = stored_content(message)
    assert stored["msgtype"] == "m.text"
    assert stored["m.mentions"] == {"user_ids": ["@a:test"]}
    assert stored["m.relates_to"]["event_id"] == "$root"
    assert stored["m.relates_to"]["m.in_reply_to"] == {"event_id": "$q"}
    event = event_content(stored)
    assert event == content_for(message)
    assert event["body"] == "hi @a:test"
    assert {k: v for k, v in event.items() if k not in ("body", "format", "formatted_body")} == {
        k: v for k, v in stored.items() if k != MARKDOWN_KEY
    }


def test_messaging_rendered_event_is_clipped_by_encoded_size() -> None:
    stored = stored_content(Message("é" * 30_000, to=ToRoom(ROOM), key="big"))
    assert stored[MARKDOWN_KEY] == "é" * 30_000  # the row keeps it whole
    event = event_content(stored)
    assert event["body"].endswith("(message shortened)")
    assert encoded_size(event["body"]) <= MAX_FIELD_BYTES
    assert encoded_size(event["formatted_body"]) <= MAX_FIELD_BYTES


def test_messaging_rows_from_before_send_as_they_are() -> None:
    older = message_content("already *rendered*", "<b>already</b>", in_reply_to="$e")
    assert event_content(older) is older
    assert event_content({"m.relates_to": {"key": "👍"}}) == {"m.relates_to": {"key": "👍"}}


async def test_messaging_sent_event_and_subject_survive_housekeeping(db: Database) -> None:
    subject = Subject("incident", 7, "post")
    async with db.sessions.begin() as session:
        await Messenger.post(
            session, Message("🚨 *INC-7* filed", to=ToRoom(ROOM), key="k7", subject=subject)
        )
        await Messenger.post(session, Message("no subject", to=ToRoom(ROOM), key="k8"))
        assert await Messenger.sent_event(session, subject) is None  # not sent yet
    sent_at = datetime(2026, 1, 1, tzinfo=UTC)
    async with db.sessions.begin() as session:
        for row in await session.scalars(select(OutboxMessage)):
            row.sent_event_id, row.sent_at, row.created_at = f"$e-{row.txn_id}", sent_at, sent_at
    await prune(db, now=sent_at + timedelta(days=400), retention=timedelta(days=30))
    async with db.sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        assert [r.content for r in rows] == [PRUNED_CONTENT, PRUNED_CONTENT]
        event_id = await Messenger.sent_event(session, subject)
        assert event_id == rows[0].sent_event_id
        sent = await Messenger.subject_of(session, event_id)
        assert sent is not None and sent.subject == subject
        assert sent.preview == "🚨 INC-7 filed"
        other = await Messenger.subject_of(session, str(rows[1].sent_event_id))
        assert other is not None and other.subject is None and other.preview == ""
        assert await Messenger.subject_of(session, "$not-ours") is None


async def test_messaging_private_message_keeps_no_preview_once_sent(
    db: Database, tmp_path: object
) -> None:
    async with db.sessions.begin() as session:
        await Messenger.post(
            session,
            Message("secret", to=ToPerson("@a:test"), key="dm1", subject=Subject("t", 1, "dm")),
        )

    class Transport:
        async def open_direct_room(self, user_id: str) -> str:
            return "!dm:test"

        async def send_event(self, room_id: str, event_type: str, content: dict, txn: str) -> str:
            assert content[MARKDOWN_KEY] == "secret"  # the transport renders it
            return "$dm-event"

    outbox = Outbox(db)
    assert await outbox.flush(Transport())  # type: ignore[arg-type]
    async with db.sessions() as session:
        row = await session.scalar(select(OutboxMessage))
        assert row is not None and row.preview is None and row.private
        sent = await Messenger.subject_of(session, "$dm-event")
        assert sent is not None and sent.preview == ""


async def test_messaging_sent_by_keys_tells_event_and_room(db: Database) -> None:
    async with db.sessions.begin() as session:
        to_room = await Messenger.post(session, Message("a", to=ToRoom(ROOM), key="ka"))
        to_dm = await Messenger.post(session, Message("b", to=ToPerson("@b:test"), key="kb"))
        assert await Messenger.sent_by_keys(session, []) == {}
    async with db.sessions.begin() as session:
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.txn_id == to_dm))
        assert row is not None
        row.room_id, row.sent_event_id = "!dm:test", "$b"
    async with db.sessions() as session:
        sent = await Messenger.sent_by_keys(session, [to_room, to_dm, "hd-unknown.0"])
        assert set(sent) == {to_room, to_dm}
        assert (sent[to_room].event_id, sent[to_room].room_id) == (None, ROOM)
        assert (sent[to_dm].event_id, sent[to_dm].room_id) == ("$b", "!dm:test")
        about = await Messenger.subject_of(session, "$b")
        assert about is not None and about.txn_id == to_dm


# The names of a room's members as the transport gathers them: localparts, display names.
NAMES = ["helpdesk", "Security Helpdesk", "alice", "Alice Liddell", "bob", ""]


@pytest.mark.parametrize(
    "body",
    [
        "Release signing: owned by @alice:test",  # a localpart, in a user id
        "ask ALICE about it",  # any case
        "see malice.example",  # inside a word: Synapse would not match, we keep it anyway
        "Alice Liddell is on call",  # a display name
        "ping @room please",  # everyone
        "ping @ROOM",
    ],
)
def test_messaging_empty_mentions_kept_where_a_legacy_rule_could_fire(body: str) -> None:
    assert legacy_mention_possible(body, NAMES)
    content = message_content(body)
    assert without_redundant_mentions(content, NAMES) == content


def test_messaging_empty_mentions_dropped_where_no_member_is_named() -> None:
    content = message_content("pong", in_reply_to="$q")
    before = dict(content)
    plain = without_redundant_mentions(content, NAMES)
    assert "m.mentions" not in plain
    assert plain == {k: v for k, v in before.items() if k != "m.mentions"}
    assert content == before  # the input is not mutated
    assert not legacy_mention_possible("pong", NAMES)
    assert not legacy_mention_possible("pong", [])  # empty names never match


def test_messaging_mentions_kept_when_not_empty_or_members_unknown() -> None:
    pinged = message_content("pong", mentions=("@carol:test",))
    assert without_redundant_mentions(pinged, NAMES) == pinged  # someone is pinged on purpose
    quiet = message_content("pong")
    assert without_redundant_mentions(quiet, None) == quiet  # members unknown
    no_body = {"msgtype": "m.notice", "m.mentions": {}}
    assert without_redundant_mentions(no_body, NAMES) == no_body
    absent = {"msgtype": "m.notice", "body": "pong"}
    assert without_redundant_mentions(absent, NAMES) == absent


def test_messaging_glob_characters_in_a_name_count_as_possible() -> None:
    """A localpart is a glob pattern to Synapse: ``a*b`` matches "axxb"."""
    assert legacy_mention_possible("axxb", ["a*b"])
    assert legacy_mention_possible("pong", ["p?ng"])
