"""The tickets feature: no-judgement help tickets and the security team's triage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.features.plugin import Plugin

if TYPE_CHECKING:
    from bot.commands.router import Router
    from bot.features.triage import TriageVerbs
    from bot.privacy import PrivacyProvider
    from bot.services import Services


class TicketsPlugin(Plugin):
    """``!ticket`` and friends; ``T-N`` ids on the shared triage verbs; the ticket jobs."""

    name = "tickets"

    def __init__(self, services: Services, triage: TriageVerbs) -> None:
        self.services = services
        self.triage = triage
        self._scheduled = False

    def register(self, router: Router) -> None:
        from bot.features.tickets import handlers
        from bot.features.tickets.kind import TicketKind

        kind = TicketKind()
        self.triage.add_kind(kind)
        handlers.register(router, kind)

    def privacy_providers(self) -> Sequence[PrivacyProvider]:
        from bot.features.tickets.privacy import TicketsPrivacy

        return [TicketsPrivacy(self.services)]

    async def start(self) -> None:
        from bot.features.tickets.anonymity import anonymity_key, move_key_out_of_database
        from bot.features.tickets.jobs import run_jobs

        services = self.services
        # Make the generated key now, not inside two racing first filings.
        async with services.db.sessions.begin() as session:
            await move_key_out_of_database(session, services)
        anonymity_key(services)
        if self._scheduled:
            return
        self._scheduled = True

        async def tick() -> None:
            await run_jobs(services)

        services.scheduler.every(services.settings.tickets.check_every, tick, "tickets:jobs")
