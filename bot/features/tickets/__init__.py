"""The tickets feature: no-judgement help tickets and the security team's triage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.features import Feature

if TYPE_CHECKING:
    from bot.commands.router import Router
    from bot.services import Services


def _setup(services: Services, router: Router) -> None:
    from bot.features.tickets import handlers
    from bot.features.tickets.kind import TicketKind
    from bot.features.tickets.privacy import TicketsPrivacy
    from bot.features.triage import triage_verbs
    from bot.privacy import privacy_registry

    kind = TicketKind()
    triage_verbs(router).add_kind(kind)
    handlers.register(router, kind)
    privacy_registry(router).add(TicketsPrivacy(services))


async def _on_ready(services: Services) -> None:
    from bot.features.tickets.anonymity import anonymity_key, move_key_out_of_database
    from bot.features.tickets.jobs import run_jobs

    # Make the generated key now, not inside two racing first filings.
    async with services.db.sessions.begin() as session:
        await move_key_out_of_database(session, services)
    anonymity_key(services)

    async def tick() -> None:
        await run_jobs(services)

    services.scheduler.every(services.settings.tickets.check_every, tick, "tickets:jobs")


feature = Feature(name="tickets", setup=_setup, on_ready=_on_ready)
