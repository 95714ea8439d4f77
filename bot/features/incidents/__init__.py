"""The incidents feature: guided reports, first steps, paging, escalation, timeline, export."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.features import Feature
from bot.features.incidents.export import add_cli

if TYPE_CHECKING:
    from bot.commands.router import Router
    from bot.services import Services


def _setup(services: Services, router: Router) -> None:
    from bot.features.incidents import loop_handlers
    from bot.features.incidents.handlers import register
    from bot.features.incidents.intake import Intake
    from bot.features.incidents.playbooks import load_playbooks

    playbooks = load_playbooks(services.settings.incidents.playbooks_file)
    register(router, Intake(playbooks))
    loop_handlers.register(router)


async def _on_ready(services: Services) -> None:
    from bot.features.incidents.clocks import remind_clocks
    from bot.features.incidents.escalation import escalate_due
    from bot.features.incidents.intake_incident import expire_intakes
    from bot.features.incidents.roles import remind_leads

    async def check() -> None:
        await escalate_due(services)
        await expire_intakes(services)
        await remind_clocks(services)
        await remind_leads(services)

    services.scheduler.every(
        services.settings.incidents.escalation_check_interval,
        check,
        "incidents-escalation-and-expiry",
    )


feature = Feature(name="incidents", setup=_setup, add_cli=add_cli, on_ready=_on_ready)
