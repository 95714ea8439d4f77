"""The web app over a real database (SQLite and PostgreSQL), no browser, no homeserver.

Links and sessions, the team re-checked on each request, CSRF, headers, size limits,
anonymity on the board, and an access log without tokens or ticket text.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, text

from bot.features.ownership import repository as ownership_repo
from bot.features.ownership.importer import import_map
from bot.metrics import Metrics
from bot.storage import Database
from bot.web import WebServer, auth
from bot.web.server import Probes
from bot.web.site import LOGIN_COOKIE, SESSION_COOKIE
from tests.support.desk import ALICE, LEAD, MEMBER, Desk

EXAMPLE_MAP = Path(__file__).resolve().parents[2] / "config" / "responsibilities.yaml"
SECRET = "my seed phrase is purple-walrus-lamp"


async def _false() -> bool:
    return False


@pytest.fixture
async def desk(db: Database) -> AsyncIterator[Desk]:
    d = Desk(db, web={"public_url": "https://helpdesk.example.org"})
    yield d
    await d.close()


class Client:
    """The real WebServer (as the app runs it) on a free port, and an HTTP client."""

    def __init__(self, desk: Desk):
        probes = Probes(lambda: True, _false)
        self.server = WebServer("127.0.0.1", 0, probes, Metrics(), desk.services, desk.router)
        self.http = aiohttp.ClientSession()

    async def start(self) -> Client:
        await self.server.start()
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.port}{path}"

    async def get(self, path: str, **kw: Any) -> aiohttp.ClientResponse:
        async with self.http.get(self.url(path), **kw) as r:
            await r.read()
            return r

    async def post(self, path: str, **kw: Any) -> aiohttp.ClientResponse:
        async with self.http.post(self.url(path), **kw) as r:
            await r.read()
            return r

    async def close(self) -> None:
        await self.http.close()
        await self.server.stop()


async def client_for(desk: Desk) -> Client:
    return await Client(desk).start()


async def session_for(desk: Desk, user: str, scope: str = "team") -> str:
    """A signed-in session token for ``user`` (through a link, as the browser does)."""
    async with desk.db.sessions.begin() as session:
        link = await auth.issue_link(
            session, user_id=user, scope=scope, now=desk.clock(), per_10_minutes=5
        )
    client = await client_for(desk)
    try:
        form = await client.get(f"/login/{link}")
        nonce = re.search(r'name="csrf" value="([^"]+)"', await form.text())
        assert nonce is not None and form.cookies[LOGIN_COOKIE]["secure"]
        answer = await client.post(
            f"/login/{link}",
            data={"csrf": nonce[1]},
            cookies={LOGIN_COOKIE: nonce[1]},
            allow_redirects=False,
        )
        assert answer.status == 303, await answer.text()
        cookie = answer.cookies[SESSION_COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["secure"]
        return cookie.value
    finally:
        await client.close()


async def test_links_work_once_expire_and_are_rate_limited(desk: Desk) -> None:
    now = desk.clock()
    async with desk.db.sessions.begin() as session:
        token = await auth.issue_link(
            session, user_id=LEAD, scope="team", now=now, per_10_minutes=2
        )
        old = await auth.issue_link(session, user_id=LEAD, scope="team", now=now, per_10_minutes=2)
        with pytest.raises(auth.RateLimited):
            await auth.issue_link(session, user_id=LEAD, scope="team", now=now, per_10_minutes=2)
    async with desk.db.sessions.begin() as session:
        assert await auth.consume_link(session, token, now=now) == auth.Identity(LEAD, "team")
        assert await auth.consume_link(session, token, now=now) is None  # used
        late = now + auth.LINK_TTL + timedelta(seconds=1)
        assert await auth.consume_link(session, old, now=late) is None  # expired
        assert await auth.consume_link(session, "forged", now=now) is None
    # The database holds hashes only.
    values: list[str] = []
    async with desk.db.sessions() as session:
        for table in ("web_login_links", "web_sessions"):
            for row in await session.execute(text(f"SELECT * FROM {table}")):
                values.extend(str(v) for v in row)
    dump = " ".join(values)
    assert token not in dump and old not in dump and auth.token_hash(token) in dump
    # Ended links are forgotten a day later, when the next link is issued.
    async with desk.db.sessions.begin() as session:
        await auth.issue_link(
            session, user_id=MEMBER, scope="team", now=now + timedelta(days=2), per_10_minutes=2
        )
    async with desk.db.sessions() as session:
        left = list(await session.scalars(select(auth.WebLoginLink.user_id)))
    assert left == [MEMBER]


async def test_sessions_end_after_session_ttl(desk: Desk) -> None:
    ttl = desk.services.settings.web.session_ttl
    assert ttl == timedelta(hours=8)
    token = await session_for(desk, LEAD)
    async with desk.db.sessions() as session:
        now = desk.clock()
        assert await auth.session_identity(session, token, now=now + ttl - timedelta(seconds=1))
        assert await auth.session_identity(session, token, now=now + ttl) is None


async def test_board_hardening_anonymity_and_access_log(desk: Desk, bot_logs: list[str]) -> None:
    await desk.say(f"!ticket anonymous {SECRET}", sender=ALICE, room="helpdesk")
    token = await session_for(desk, MEMBER)  # on the team by being in the triage room
    client = await client_for(desk)
    try:
        cookies = {SESSION_COOKIE: token}
        page = await client.get("/", cookies=cookies)
        body = await page.text()
        assert page.status == 200 and "T-1" in body and "purple-walrus" in body
        assert ALICE not in body and "anonymous" in body
        csp = page.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script" not in csp
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Cache-Control"] == "no-store"
        case = await client.get("/tickets/1", cookies=cookies)
        case_body = await case.text()
        assert case.status == 200 and ALICE not in case_body and "anonymous" in case_body
        csrf = auth.csrf_token(token)

        # No CSRF token, or another session's: refused, nothing changes.
        for data in ({"action": "claim"}, {"action": "claim", "csrf": "0" * 64}):
            refused = await client.post("/tickets/1", data=data, cookies=cookies)
            assert refused.status == 403
        # The chat verb's own refusal shows, and nothing changes.
        refused = await client.post(
            "/tickets/1",
            data={"action": "assign", "csrf": csrf, "user": "@outsider:test"},
            cookies=cookies,
        )
        body = await refused.text()
        assert "is not in the security team" in body and "<dd>new</dd>" in body
        # An anonymous ticket can be claimed: the reporter is reached by the keyed route.
        claimed = await client.post(
            "/tickets/1", data={"action": "claim", "csrf": csrf}, cookies=cookies
        )
        assert "<dd>new</dd>" not in await claimed.text()
        noted = await client.post(
            "/tickets/1",
            data={"action": "note", "csrf": csrf, "text": "<script>x</script> call them"},
            cookies=cookies,
        )
        body = await noted.text()
        assert noted.status == 200 and "&lt;script&gt;x&lt;/script&gt; call them" in body

        # Request size limit.
        huge = await client.post(
            "/tickets/1",
            data={"action": "note", "csrf": csrf, "text": "x" * 200_000},
            cookies=cookies,
        )
        assert huge.status == 413

        # Team membership is checked on every request: leaving the triage room ends it.
        desk.services.directory.members[desk.triage].discard(MEMBER)  # type: ignore[attr-defined]
        gone = await client.get("/", cookies=cookies)
        assert gone.status == 401 and "purple-walrus" not in await gone.text()
    finally:
        await client.close()
    logged = "\n".join(bot_logs)
    assert "GET / 200" in logged and "POST /login/{token} 303" in logged
    assert token not in logged and "purple-walrus" not in logged
    assert not re.search(r"/login/[\w-]{20,}", logged)


async def test_dashboard_logout_and_handbook_modes(desk: Desk) -> None:
    token = await session_for(desk, LEAD)
    await desk.say("!dashboard logout", sender=LEAD, room="triage")
    async with desk.db.sessions() as session:
        assert await auth.session_identity(session, token, now=desk.clock()) is None
    # !dashboard is for the team; !handbook for helpdesk-room members.
    await desk.say("!dashboard", sender=ALICE, room="dm")
    await desk.say("!handbook", sender=ALICE, room="dm")
    texts = [str(r.content.get("body")) for r in await desk.rows()]
    assert any("for the security team" in t for t in texts)
    assert any("for members of the helpdesk room" in t for t in texts)
    client = await client_for(desk)
    try:
        assert (await client.get("/handbook")).status == 401
        desk.services.settings.web.handbook = "public"
        async with desk.db.sessions.begin() as session:
            await import_map(session, EXAMPLE_MAP.read_text(), actor="test", now=desk.clock())
            areas = await ownership_repo.all_areas(session=session)
        public = await client.get("/handbook?q=who+handles+phishing%3F")
        page = html.unescape(await public.text())
        assert public.status == 200 and "Not listed?" in page
        # The same content as `helpdesk-bot handbook`: every area, owner and contact.
        assert len(areas) > 10
        for area in areas:
            assert area.name in page and (area.contact or "") in page
            assert all(owner in page for owner in area.owners)
        assert "Phishing and scams: owned by @security-oncall:example.org" in page
        desk.services.settings.web.handbook = "off"
        assert (await client.get("/handbook")).status == 404
    finally:
        await client.close()


def _links(rows: list[Any]) -> list[str]:
    return [m for r in rows for m in re.findall(r"/login/[\w-]+", str(r.content.get("body")))]


async def test_dashboard_sends_the_link_by_dm(desk: Desk) -> None:
    await desk.say("!dashboard", sender=LEAD, room="triage")
    rows = await desk.rows()
    dm = [r for r in rows if r.dm_user_id == LEAD]
    assert len(_links(dm)) == 1 and _links(dm)[0] and not _links([r for r in rows if r not in dm])
    assert "https://helpdesk.example.org/login/" in str(dm[0].content["body"])
    async with desk.db.sessions() as session:
        stored = list(await session.scalars(select(auth.WebLoginLink.user_id)))
    assert stored == [LEAD]


async def test_charts_count_what_happened(desk: Desk) -> None:
    from bot.web import charts

    await desk.say("!ticket my laptop was stolen", sender=ALICE, room="dm")
    await desk.say("!ticket is this mail phishing?", sender=ALICE, room="dm")
    desk.clock.advance(timedelta(hours=2))
    await desk.say("!claim T-1", sender=LEAD, room="triage")
    desk.clock.advance(timedelta(hours=4))
    await desk.say("!close T-2 answered", sender=LEAD, room="triage")
    async with desk.db.sessions() as session:
        weekly = await charts.weekly(session, desk.clock())
        response = await charts.response_times(session)
    assert sum(weekly.series["tickets opened"]) == 2
    assert sum(weekly.series["tickets closed"]) == 1
    assert weekly.series["tickets opened"][-1] == 2  # this week is the last bar
    assert response.series["ticket first response"] == [4.0, 6.0]  # median of 2h and 6h
    assert "ticket first response: median 4h, p90 6h" in response.summary()
    svg = charts.svg(weekly).decode()
    assert svg.startswith("<?xml") and "<script" not in svg
    assert charts.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == 9


async def test_board_shows_regulatory_clocks(desk: Desk) -> None:
    """A running GDPR clock shows on the board and the incident page; a met one says so."""
    await desk.say("!incident device lost my laptop with customer data", sender=ALICE)
    await desk.say("!clock INC-1 gdpr", sender=LEAD, room="triage")
    token = await session_for(desk, LEAD)
    client = await client_for(desk)
    try:
        cookies = {SESSION_COOKIE: token}
        board = await (await client.get("/", cookies=cookies)).text()
        assert "Next regulatory deadline" in board and "due in" in board
        page = await (await client.get("/incidents/1", cookies=cookies)).text()
        assert "Regulatory clocks" in page and "due in 3d" in page
        await desk.say("!clock INC-1 met gdpr", sender=LEAD, room="triage")
        page = await (await client.get("/incidents/1", cookies=cookies)).text()
        assert "met " in page and "due in" not in page
    finally:
        await client.close()


async def test_board_action_messages_are_queued_like_chat_ones(desk: Desk) -> None:
    """A board action's messages go out exactly as the chat command's would.

    The reply to an anonymous reporter keeps its own unlinkable key and is private (erased
    once sent); an answer written in Markdown shows on the page with its prefix filled in.
    """
    await desk.say(f"!ticket anonymous {SECRET}", sender=ALICE, room="dm")
    token = await session_for(desk, LEAD)
    client = await client_for(desk)
    csrf = auth.csrf_token(token)
    try:
        cookies = {SESSION_COOKIE: token}
        replied = await client.post(
            "/tickets/1",
            data={"action": "reply", "csrf": csrf, "text": "please reboot"},
            cookies=cookies,
        )
        assert replied.status == 200
        for form in ({"action": "close", "resolution": "answered"}, {"action": "claim"}):
            done = await client.post("/tickets/1", data={**form, "csrf": csrf}, cookies=cookies)
        page = html.unescape(await done.text())
        assert "T-1 is closed; !reopen it first" in page and "{prefix}" not in page
    finally:
        await client.close()
    rows = await desk.rows()
    [to_reporter] = [r for r in rows if r.content and "please reboot" in r.content["body"]]
    assert to_reporter.private and to_reporter.source_event_id is None


async def test_incident_buttons_give_the_chat_verbs_answers_and_refusals(desk: Desk) -> None:
    """Each incident button does what its chat verb does: same refusals, same timeline,
    the reporter's update queued as a DM, the answer announced in the triage room."""
    await desk.say("!incident device lost my laptop", sender=ALICE)
    token = await session_for(desk, LEAD)
    client = await client_for(desk)
    csrf = auth.csrf_token(token)
    cookies = {SESSION_COOKIE: token}

    async def press(**form: str) -> str:
        answer = await client.post("/incidents/1", data={**form, "csrf": csrf}, cookies=cookies)
        assert answer.status == 200
        return html.unescape(await answer.text())

    try:
        assert "a user id like @name:server" in await press(action="assign", user="nobody")
        assert "cases stay with it" in await press(action="assign", user=ALICE)
        assert "Give an incident id and the update." in await press(action="update", text="")
        assert "Give an incident id and low, medium" in await press(action="severity")
        assert "INC-1 severity is high" in await press(action="severity", severity="HIGH")
        assert "INC-1 is now contained." in await press(action="status", status="contained")
        assert f"INC-1 is assigned to {LEAD}." in await press(action="assign", user=LEAD)
        assert f"Sent to {ALICE}" in await press(action="update", text="wiped remotely")
        assert "Done." in await press(action="note", text="call the insurer")
    finally:
        await client.close()
    async with desk.db.sessions() as session:
        events = list(
            await session.execute(
                text("SELECT author, kind FROM incident_events WHERE incident_id = 1")
            )
        )
    rows = await desk.rows()
    assert {("@lead:test", k) for k in ("severity", "status", "assigned", "update", "note")} <= {
        (author, kind) for author, kind in events
    }
    bodies = [r.content["body"] for r in rows if r.content]
    assert any("wiped remotely" in b for b in bodies)  # the reporter's DM
    assert any(f"{LEAD} on the web board: INC-1 is now contained." in b for b in bodies)
