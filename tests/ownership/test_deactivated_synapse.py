"""A deactivated owner account, detected on a real Synapse through the admin API."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from bot.clock import ManualClock
from bot.dev.devserver import LocalSynapse
from bot.features.ownership import reconfirm
from bot.features.ownership.accounts import AccountChecker
from bot.features.ownership.importer import import_map
from bot.storage import Database, migrate
from tests.support.botworld import BotWorld, InProcessBot, wait_joined
from tests.support.mxclient import reply_to, text_of

pytestmark = pytest.mark.integration
WAIT = 30


def _token(hs: LocalSynapse, name: str, *, admin: bool) -> str:
    return hs.register(name, f"{name}-pass-secret", admin=admin)["access_token"]


def _deactivate(hs: LocalSynapse, admin_token: str, user_id: str) -> None:
    request = urllib.request.Request(
        f"{hs.url}/_synapse/admin/v1/deactivate/{quote(user_id, safe='')}",
        data=json.dumps({"erase": False}).encode(),
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        assert response.status == 200


async def test_ownership_account_checker_with_and_without_admin_rights(world: BotWorld) -> None:
    hs = world.hs
    admin = await asyncio.to_thread(_token, hs, "owners-admin-a", admin=True)
    plain = await asyncio.to_thread(_token, hs, "owners-plain-a", admin=False)
    gone, here = await world.user("gone-a"), await world.user("here-a")
    await asyncio.to_thread(_deactivate, hs, admin, gone.user_id)
    remote = "@someone:elsewhere.example"

    checker = AccountChecker(hs.url, admin, hs.server_name, ttl_seconds=3600)
    found = await checker.check([gone.user_id, here.user_id, remote])
    assert found == {gone.user_id: True, here.user_id: False}  # the remote one is not asked
    assert await checker.check([gone.user_id]) == {}  # cached

    # A token without admin rights: Synapse refuses (403), the check turns itself off.
    refused = AccountChecker(hs.url, plain, hs.server_name, ttl_seconds=3600)
    assert await refused.check([gone.user_id, here.user_id]) == {}
    assert refused.enabled is False


async def test_ownership_deactivated_owner_is_stale_and_not_asked_on_synapse(
    world: BotWorld,
) -> None:
    hs = world.hs
    admin = await asyncio.to_thread(_token, hs, "owners-admin-b", admin=True)
    owner, backup = await world.user("owner-b"), await world.user("backup-b")
    other_gone, other = await world.user("gone-b"), await world.user("other-b")
    asker = await world.user("asker-b")
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    today = clock().date().isoformat()  # both areas are freshly verified
    await migrate.upgrade(world.db_url)
    db = Database(world.db_url)
    async with db.sessions.begin() as session:
        await import_map(
            session,
            "areas:\n"
            f"  - {{name: Release signing, owners: ['{owner.user_id}'],"
            f" backups: ['{backup.user_id}'], verified: {today}}}\n"
            f"  - {{name: Build runners, owners: ['{other_gone.user_id}', '{other.user_id}'],"
            f" verified: {today}}}\n",
            actor="test",
            now=clock(),
        )
    await db.close()
    settings = world.settings(ownership={"admin_token": admin})
    bot = InProcessBot(settings, clock, plaintext_dms=True)
    await bot.start()
    try:
        await wait_joined(world, world.helpdesk)
        services = bot.app.services  # type: ignore[union-attr]
        service = bot.app.plugin("ownership").service  # type: ignore[union-attr,attr-defined]
        # Fresh and active: nobody is asked.
        assert await reconfirm.send_due(services, service) == 0  # type: ignore[arg-type]

        for user in (owner, other_gone):
            await asyncio.to_thread(_deactivate, hs, admin, user.user_id)
        service.accounts.forget()  # the next check asks again (as after the TTL)

        # Reconfirm time: Build runners counts as stale at once; only the active owner
        # is asked, not the deactivated one.
        assert await reconfirm.send_due(services, service) == 1  # type: ignore[arg-type]
        assert other_gone.user_id in service.deactivated

        # Answer time: the owner's account is deactivated, the chain goes on to the backup.
        asked = await asker.send(world.helpdesk, "!owner release signing")
        answer = await asker.wait_for(lambda e: reply_to(e) == asked, WAIT)
        assert answer is not None
        body = text_of(answer)
        assert f"the owner's account ({owner.user_id}) is deactivated" in body
        assert backup.user_id in body

        # The security team sees both in the gaps.
        gaps_id = await world.lead.send(world.triage, "!owners gaps")
        gaps = await world.lead.wait_for(lambda e: reply_to(e) == gaps_id, WAIT)
        assert gaps is not None
        assert f"owner account deactivated ({owner.user_id})" in text_of(gaps)
        assert f"owner account deactivated ({other_gone.user_id})" in text_of(gaps)
    finally:
        await bot.stop()
