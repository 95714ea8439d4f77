"""The web board and handbook in a real browser, signed in through links sent over Synapse."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.features.incidents import repository as incident_repo
from bot.features.ownership.importer import import_map
from bot.features.tickets.models import TicketEvent
from bot.web import auth
from bot.web.models import WebLoginLink
from tests.support.botworld import BotWorld, InProcessBot
from tests.support.mxclient import MatrixUser, reply_to, text_of

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
WAIT = 30
LINK = re.compile(r"https?://\S+/login/[\w-]+")


async def ask(world: BotWorld, user: MatrixUser, room: str, body: str) -> str:
    event_id = await user.send(room, body)
    reply = await user.wait_for(
        lambda e: e.get("sender") == world.bot_user_id and reply_to(e) == event_id, WAIT
    )
    assert reply is not None, f"no reply to {body!r}"
    return text_of(reply)


async def dm_room(user: MatrixUser) -> str:
    """Join the bot's DM invite and return the room id."""
    for _ in range(WAIT * 2):
        await user.sync(timeout_ms=500)
        if user.invites:
            room_id = next(iter(user.invites))
            await user.join(room_id)
            return room_id
    raise AssertionError("the bot never opened a DM")


async def link_in(world: BotWorld, user: MatrixUser, room: str, seen: set[str]) -> str:
    """The next sign-in link the bot sends ``user`` in ``room``."""

    def is_link(e: dict) -> bool:
        return (
            e.get("sender") == world.bot_user_id
            and e.get("room_id") == room
            and bool(LINK.search(text_of(e)))
            and e["event_id"] not in seen
        )

    event = await user.wait_for(is_link, WAIT)
    assert event is not None, "no sign-in link arrived"
    seen.add(event["event_id"])
    found = LINK.search(text_of(event))
    assert found is not None
    return found[0]


async def axe_check(page: Any, name: str) -> None:
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    serious = [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not serious, f"{name}: {serious}"


async def shoot(page: Any, shots: Path, name: str) -> None:
    await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


async def sign_in(page: Any, url: str) -> int:
    """Open a sign-in link and press its button; the status of the answer."""
    await page.goto(url)
    async with page.expect_response(lambda r: r.request.method == "POST") as posted:
        await page.get_by_role("button", name="Sign in").click()
    return (await posted.value).status


@pytest.mark.plaintext_dms
async def test_board_and_handbook_in_a_browser(
    world: BotWorld, running_bot: InProcessBot, browser: Any, shots: Path
) -> None:
    app = running_bot.app
    assert app is not None
    db = app.db
    async with db.sessions.begin() as session:
        await import_map(
            session,
            (ROOT / "config" / "responsibilities.yaml").read_text(),
            actor="test",
            now=datetime.now(UTC),
        )
    lead, seen = world.lead, set()
    base = f"http://127.0.0.1:{world.web_port}"
    alice = await world.user("alice")

    # A ticket filed in chat; the reporter's DM opens.
    await ask(world, alice, world.helpdesk, "!ticket I clicked a <b>weird</b> link in a mail")
    alice_dm = await dm_room(alice)

    # The lead asks for the board in the triage room; the link comes by DM.
    assert "direct message" in await ask(world, lead, world.triage, "!dashboard")
    lead_dm = await dm_room(lead)
    url = await link_in(world, lead, lead_dm, seen)
    async with db.sessions() as session:  # only the hash is stored
        stored = await session.scalars(select(WebLoginLink.token_hash))
        assert url.rsplit("/", 1)[1] not in " ".join(stored)

    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(url)  # opening the link shows a button; it does not use the link
    await shoot(page, shots, "login")
    await axe_check(page, "login")
    assert await sign_in(page, url) == 303
    assert await page.get_by_role("heading", name="Triage board").is_visible()
    row = page.get_by_role("row").filter(has_text="T-1")
    assert "new" in await row.inner_text()
    cookie = next(c for c in await context.cookies() if c["name"] == "helpdesk_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    response = await page.goto(f"{base}/")
    assert response is not None
    headers = response.headers
    assert "script-src" not in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
    await shoot(page, shots, "board")
    await axe_check(page, "board")

    # The ticket's page, escaped, then closed from the web: the reporter hears in Matrix.
    await page.get_by_role("link", name="T-1").click()
    assert await page.get_by_text("I clicked a <b>weird</b> link in a mail").is_visible()
    await shoot(page, shots, "ticket")
    await axe_check(page, "ticket")
    close_form = page.locator("form").filter(has_text="Close ticket")
    await close_form.get_by_label("Resolution").select_option("answered")
    await close_form.get_by_label("Message to the reporter").fill("Change that password now.")
    await close_form.get_by_role("button", name="Close ticket").click()
    assert "T-1 closed" in await page.get_by_role("status").inner_text()
    told = await alice.wait_for(
        lambda e: e.get("room_id") == alice_dm and "Change that password now" in text_of(e), WAIT
    )
    assert told is not None and "closed" in text_of(told)
    seen_by_team = await lead.wait_for(
        lambda e: e.get("room_id") == world.triage and "on the web board: T-1 closed" in text_of(e),
        WAIT,
    )
    assert seen_by_team is not None and lead.user_id in text_of(seen_by_team)
    async with db.sessions() as session:  # the same audit trail as the chat verbs
        actors = {(e.actor, e.action) for e in await session.scalars(select(TicketEvent))}
    assert (lead.user_id, "state") in actors and (lead.user_id, "resolution") in actors

    # A form post without its CSRF token is refused (and changes nothing).
    refused = await page.request.post(f"{base}/tickets/1", form={"action": "reopen"})
    assert refused.status == 403
    await page.reload()
    assert await page.get_by_text("Reopen").count() == 1

    # An incident: acknowledged and given a severity from the web.
    async with db.sessions.begin() as session:
        await incident_repo.create_incident(
            session,
            type_key="phishing",
            type_name="Phishing",
            summary="Fake login page for the wiki",
            reporter=alice.user_id,
            first_steps=[],
            created_at=datetime.now(UTC) - timedelta(minutes=7),
        )
    await page.goto(f"{base}/")
    await page.get_by_role("link", name="INC-1").click()
    await page.get_by_role("button", name="Acknowledge").click()
    assert "acknowledged by" in await page.get_by_role("status").inner_text()
    sev = page.locator("form").filter(has_text="Set severity")
    await sev.get_by_label("Severity").select_option("high")
    await sev.get_by_role("button", name="Set severity").click()
    assert "severity is high" in await page.get_by_role("status").inner_text()
    await shoot(page, shots, "incident")
    await axe_check(page, "incident")

    # Charts: server-rendered SVG with a text alternative.
    await page.goto(f"{base}/charts")
    images = page.get_by_role("img")
    assert await images.count() == 4
    for n in range(4):
        assert await images.nth(n).evaluate("i => i.complete && i.naturalWidth > 0")
    assert "tickets opened" in (await images.nth(0).get_attribute("alt") or "")
    await shoot(page, shots, "charts")
    await axe_check(page, "charts")

    # The handbook answers a question with the bot's own matching.
    await page.goto(f"{base}/handbook")
    await page.get_by_label("Who do I contact about").fill("who handles phishing?")
    await page.get_by_role("button", name="Search").click()
    answer = await page.locator(".answer").inner_text()
    assert "Phishing and scams" in answer and "@security-oncall:example.org" in answer
    await shoot(page, shots, "handbook")
    await axe_check(page, "handbook")

    # The link works once.
    other = await browser.new_context()
    second = await other.new_page()
    assert await sign_in(second, url) == 403
    assert await second.get_by_text("already used").is_visible()
    await shoot(second, shots, "refused")
    await axe_check(second, "refused")

    # An expired link is refused.
    assert "10 minutes" in await ask(world, lead, lead_dm, "!dashboard")
    stale = await link_in(world, lead, lead_dm, seen)
    async with db.sessions.begin() as session:
        await session.execute(
            update(WebLoginLink)
            .where(WebLoginLink.token_hash == auth.token_hash(stale.rsplit("/", 1)[1]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await sign_in(second, stale) == 403

    # A non-team user: a handbook link opens the handbook, never the board; a link for
    # the board in their name is refused.
    assert "security team" in await ask(world, alice, alice_dm, "!dashboard")
    assert "10 minutes" in await ask(world, alice, alice_dm, "!handbook")
    handbook_link = await link_in(world, alice, alice_dm, seen)
    assert await sign_in(second, handbook_link) == 303
    assert second.url.endswith("/handbook")
    board = await second.goto(f"{base}/")
    assert board is not None and board.status == 403
    case = await second.goto(f"{base}/tickets/1")
    assert case is not None and case.status == 403
    assert "weird" not in await second.content()
    async with db.sessions.begin() as session:
        forged = await auth.issue_link(
            session, user_id=alice.user_id, scope="team", now=datetime.now(UTC),
            per_10_minutes=5,
        )  # fmt: skip
    assert await sign_in(second, f"{base}/login/{forged}") == 403

    # !dashboard logout ends the lead's session at once.
    assert "Signed out" in await ask(world, lead, world.triage, "!dashboard logout")
    gone = await page.goto(f"{base}/")
    assert gone is not None and gone.status == 401
    assert await page.get_by_text("dashboard to the bot").is_visible()
    await shoot(page, shots, "signed-out")
    await axe_check(page, "signed-out")
    await other.close()
    await context.close()
