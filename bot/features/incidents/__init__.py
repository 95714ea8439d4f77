"""The incidents feature: guided reports, first steps, paging, escalation, timeline, export."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bot.features import Feature
from bot.features.incidents.export import add_cli
from bot.logs import log_unexpected

if TYPE_CHECKING:
    from bot.commands.router import Router
    from bot.services import Services


log = logging.getLogger(__name__)


def _setup(services: Services, router: Router) -> None:
    from bot.features.incidents import loop_handlers
    from bot.features.incidents.handlers import register
    from bot.features.incidents.intake import Intake
    from bot.features.incidents.playbooks import load_playbooks
    from bot.features.incidents.retention import on_redaction

    playbooks = load_playbooks(services.settings.incidents.playbooks_file)
    register(router, Intake(playbooks))
    loop_handlers.register(router)
    router.on_redaction(on_redaction)
    from bot.features.incidents.privacy import IncidentsPrivacy
    from bot.privacy import privacy_registry

    privacy_registry(router).add(IncidentsPrivacy(services))


async def _on_ready(services: Services) -> None:
    from bot.features.incidents.clocks import remind_clocks
    from bot.features.incidents.escalation import escalate_due
    from bot.features.incidents.intake_incident import expire_intakes
    from bot.features.incidents.retention import purge_old_incidents
    from bot.features.incidents.roles import remind_leads

    async def check() -> None:
        # Each job on its own: one failing (say, a bad row) must not stall escalation.
        for job in (
            escalate_due,
            expire_intakes,
            remind_clocks,
            remind_leads,
            purge_old_incidents,
        ):
            try:
                await job(services)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log_unexpected(log, exc, "incidents job %s failed; will retry", job.__name__)

    services.scheduler.every(
        services.settings.incidents.escalation_check_interval,
        check,
        "incidents-escalation-and-expiry",
    )


feature = Feature(name="incidents", setup=_setup, add_cli=add_cli, on_ready=_on_ready)
