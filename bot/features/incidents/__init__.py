"""The incidents feature: guided reports, first steps, paging, escalation, timeline, export."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.features import Feature
from bot.features.incidents.export import add_cli

if TYPE_CHECKING:
    from bot.commands.router import Router
    from bot.services import Services


def _setup(services: Services, router: Router) -> None:
    from bot.features.incidents.handlers import register
    from bot.features.incidents.intake import Intake
    from bot.features.incidents.playbooks import load_playbooks
    from bot.features.incidents.retention import on_redaction

    playbooks = load_playbooks(services.settings.incidents.playbooks_file)
    register(router, Intake(playbooks))
    router.on_redaction(on_redaction)
    from bot.features.incidents.privacy import IncidentsPrivacy
    from bot.privacy import privacy_registry

    privacy_registry(router).add(IncidentsPrivacy(services))


async def _on_ready(services: Services) -> None:
    from bot.features.incidents.escalation import escalate_due
    from bot.features.incidents.intake_incident import expire_intakes
    from bot.features.incidents.retention import purge_old_incidents

    async def check() -> None:
        await escalate_due(services)
        await expire_intakes(services)
        await purge_old_incidents(services)

    services.scheduler.every(
        services.settings.incidents.escalation_check_interval,
        check,
        "incidents-escalation-and-expiry",
    )


feature = Feature(name="incidents", setup=_setup, add_cli=add_cli, on_ready=_on_ready)
