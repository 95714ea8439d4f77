"""The incidents feature: guided reports, first steps, paging, escalation, timeline, export."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.features.plugin import Plugin, SubParsers
from bot.logs import log_unexpected

if TYPE_CHECKING:
    from bot.commands.router import Router
    from bot.features.triage import TriageVerbs
    from bot.privacy import PrivacyProvider
    from bot.services import Services


log = logging.getLogger(__name__)


class IncidentsPlugin(Plugin):
    """``!incident`` intake, ``INC-N`` ids on the triage verbs, escalation and expiry jobs."""

    name = "incidents"

    def __init__(self, services: Services, triage: TriageVerbs) -> None:
        from bot.features.incidents.intake import Intake
        from bot.features.incidents.playbooks import load_playbooks

        self.services = services
        self.triage = triage
        self.intake = Intake(load_playbooks(services.settings.incidents.playbooks_file))
        self._scheduled = False

    def register(self, router: Router) -> None:
        from bot.features.incidents import loop_handlers
        from bot.features.incidents.handlers import IncidentKind, register
        from bot.features.incidents.retention import on_redaction

        register(router, self.intake)
        self.triage.add_kind(IncidentKind())
        loop_handlers.register(router, self.services.settings.incidents.clocks)
        router.on_redaction(on_redaction)

    def privacy_providers(self) -> Sequence[PrivacyProvider]:
        from bot.features.incidents.privacy import IncidentsPrivacy

        return [IncidentsPrivacy(self.services)]

    @classmethod
    def add_cli(cls, subparsers: SubParsers, common: argparse.ArgumentParser) -> None:
        from bot.features.incidents.export import add_cli

        add_cli(subparsers, common)

    async def start(self) -> None:
        if self._scheduled:
            return
        self._scheduled = True
        services = self.services
        services.scheduler.every(
            services.settings.incidents.escalation_check_interval,
            self._check,
            "incidents-escalation-and-expiry",
        )

    async def _check(self) -> None:
        from bot.features.incidents.clocks import remind_clocks
        from bot.features.incidents.escalation import escalate_due
        from bot.features.incidents.intake_incident import expire_intakes
        from bot.features.incidents.retention import purge_old_incidents
        from bot.features.incidents.roles import remind_leads

        # Each job on its own: one failing (say, a bad row) must not stall escalation.
        for job in (escalate_due, expire_intakes, remind_clocks, remind_leads, purge_old_incidents):
            try:
                await job(self.services)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log_unexpected(log, exc, "incidents job %s failed; will retry", job.__name__)
