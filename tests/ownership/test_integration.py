"""The responsibilities map on a real Synapse: questions, fallback, edits, refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import yaml

from bot.features.ownership.importer import export_map, import_map
from bot.storage import Database, migrate
from tests.ownership.helpers import EXAMPLE_MAP, START
from tests.support.botworld import BotWorld, InProcessBot, wait_joined
from tests.support.mxclient import reply_to

pytestmark = pytest.mark.integration
FALLBACK = "the security team (ask in the triage room)"


def bot_reply(world: BotWorld, question: str):
    return lambda e: (
        e.get("type") == "m.room.message"
        and e.get("sender") == world.bot_user_id
        and reply_to(e) == question
    )


@pytest.fixture
async def mapped_bot(world: BotWorld) -> AsyncIterator[InProcessBot]:
    """The bot running with the example map imported (as `owners import` would)."""
    await migrate.upgrade(world.db_url)
    db = Database(world.db_url)
    async with db.sessions.begin() as session:
        await import_map(session, EXAMPLE_MAP.read_text(), actor="cli:test", now=START)
    await db.close()
    bot = InProcessBot(world.settings(ownership={"fallback_contact": FALLBACK}))
    await bot.start()
    await wait_joined(world, world.helpdesk)
    yield bot
    await bot.stop()


async def _exported(world: BotWorld) -> dict:
    db = Database(world.db_url)
    try:
        async with db.sessions() as session:
            return yaml.safe_load(await export_map(session))
    finally:
        await db.close()


async def test_ownership_questions_answered_or_routed_in_helpdesk(
    world: BotWorld, mapped_bot: InProcessBot
) -> None:
    alice = await world.user("alice")
    question = await alice.send(world.helpdesk, "Who handles phishing?")
    reply = await alice.wait_for(bot_reply(world, question), 20)
    assert reply is not None, "no answer to a plain question"
    content = reply["content"]
    assert content["msgtype"] == "m.notice"
    assert content["body"].startswith("Phishing and scams: owned by @security-oncall:example.org")
    assert 'href="https://matrix.to/#/@security-oncall:example.org"' in content["formatted_body"]
    assert "How to contact:" in content["body"]

    situation = await alice.send(world.helpdesk, "I left my phone in a taxi, who can help?")
    answered = await alice.wait_for(bot_reply(world, situation), 20)
    assert answered is not None, "no answer to a situation"
    assert answered["content"]["body"].startswith("Lost or stolen devices: owned by")
    assert (
        "(matched: left my phone → Lost or stolen devices (covers))"
        in (answered["content"]["body"])
    )

    trap = await alice.send(world.helpdesk, "who is in charge of backups?")
    no_owner = await alice.wait_for(bot_reply(world, trap), 20)
    assert no_owner is not None and ":example.org" not in no_owner["content"]["body"]

    unknown = await alice.send(world.helpdesk, "who owns the coffee machine?")
    fallback = await alice.wait_for(bot_reply(world, unknown), 20)
    assert fallback is not None, "no answer to an unknown thing"
    assert "has no owner for 'the coffee machine'" in fallback["content"]["body"]
    assert FALLBACK in fallback["content"]["body"]
    assert ":example.org" not in fallback["content"]["body"]
    assert "matrix.to" not in fallback["content"]["formatted_body"]


async def test_ownership_team_edit_lands_in_export_and_outsider_is_refused(
    world: BotWorld, mapped_bot: InProcessBot
) -> None:
    mallory = await world.user("mallory")
    attempt = await mallory.send(world.helpdesk, f"!owner set Phishing and scams {mallory.user_id}")
    refused = await mallory.wait_for(bot_reply(world, attempt), 20)
    assert refused is not None and "is for the security team" in refused["content"]["body"]

    new_owner = "@phish-duty:example.org"
    edit = await world.lead.send(world.helpdesk, f"!owner set Phishing and scams {new_owner}")
    done = await world.lead.wait_for(bot_reply(world, edit), 20)
    assert done is not None and done["content"]["body"].startswith("✅ Owners of Phishing")

    phishing = next(
        a for a in (await _exported(world))["areas"] if a["name"] == "Phishing and scams"
    )
    assert phishing["owners"] == [new_owner]  # the team's edit, not mallory's
    ask = await mallory.send(world.helpdesk, "who handles phishing?")
    answer = await mallory.wait_for(bot_reply(world, ask), 20)
    assert answer is not None and f"owned by {new_owner}" in answer["content"]["body"]
