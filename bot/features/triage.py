"""Triage verbs shared by tickets (``T-<n>``) and incidents (``INC-<n>``): one router.

``!show``, ``!assign``, ``!status`` and ``!note`` take either kind of id; the id's prefix
picks the kind. A bare number is accepted when exactly one kind has a case with it.
Each kind registers a :class:`CaseKind`; :class:`TriageVerbs` is a plugin of its own,
handed to the tickets and incidents plugins (see :func:`bot.features.default_plugins`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import CommandContext, Reply
from bot.commands.errors import UsageError, UserError
from bot.commands.registry import Arg, ArgKind, ForOthers
from bot.commands.router import Permission, Router
from bot.features.plugin import Plugin
from bot.ids import CaseRef
from bot.messaging import md

if TYPE_CHECKING:
    from bot.services import Services


GIVE_USER = "Give a case id and a user id like @name:server."
GIVE_NOTE = "Give a case id and the note."
GIVE_STATE = "Give a case id and the new state."


def require_team_member(services: Services, user_id: str) -> None:
    """Cases are assigned only within the security team."""
    if user_id not in services.security_team():
        raise UserError(f"{md.escape(user_id)} is not in the security team; cases stay with it.")


class CaseKind(Protocol):
    """One kind of case the triage verbs can act on."""

    prefix: str  # "T" or "INC": ids read f"{prefix}-{n}"
    label: str  # "ticket", "incident"

    async def exists(self, session: AsyncSession, number: int) -> bool: ...

    async def show(self, ctx: CommandContext, number: int) -> Reply: ...

    async def assign(self, ctx: CommandContext, number: int, user_id: str) -> Reply: ...

    async def set_status(
        self, ctx: CommandContext, number: int, state: str, rest: str
    ) -> Reply: ...

    async def note(self, ctx: CommandContext, number: int, text: str) -> Reply: ...


class TriageVerbs(Plugin):
    """Registry of case kinds plus the shared commands that dispatch to them."""

    name = "triage"

    def __init__(self) -> None:
        self.kinds: dict[str, CaseKind] = {}

    def register(self, router: Router) -> None:
        self.router = router
        self._register_commands()

    def add_kind(self, kind: CaseKind) -> None:
        """Make ``kind``'s ids usable with the shared verbs."""
        self.kinds[kind.prefix.upper()] = kind

    async def resolve(self, ctx: CommandContext, ref: str) -> tuple[CaseKind, int]:
        """The kind and number named by ``ref`` (``T-12``, ``INC-3``, ``12``)."""
        try:
            case = CaseRef.parse(ref)
        except ValueError:
            raise UsageError(
                f"{md.escape(repr(ref))} is not a case id like {self._examples()}."
            ) from None
        number, prefix = case.number, case.kind
        if prefix:
            kind = self.kinds.get(prefix)
            if kind is None:
                raise UserError(
                    f"I don't know ids starting with {prefix}-; use {self._examples()}."
                )
            return kind, number
        found = [k for k in self.kinds.values() if await k.exists(ctx.session, number)]
        if len(found) == 1:
            return found[0], number
        if not found:
            raise UserError(f"There is no case number {number}.")
        ids = " or ".join(str(CaseRef(k.prefix, number)) for k in found)
        raise UserError(f"{number} is ambiguous: say {ids}.")

    def _examples(self) -> str:
        return ", ".join(str(CaseRef(p, 12)) for p in self.kinds) or "T-12"

    def _register_commands(self) -> None:
        router, team, group = self.router, Permission.SECURITY_TEAM, "Triage"
        case = Arg("case", missing="Which case?")
        give_user, give_note = GIVE_USER, GIVE_NOTE
        to_whom = Arg("user", ArgKind.USER, missing=give_user, invalid=give_user)
        router.command(
            "show", summary="Show a ticket or incident with its history",
            usage="show T-N|INC-N", permission=team, group=group, args=(case,),
        )(self.show)  # fmt: skip
        router.command(
            "assign", summary="Assign a ticket or incident to someone",
            usage="assign T-N|INC-N @user", permission=team, group=group,
            args=(replace(case, missing=give_user), to_whom),
        )(self.assign)  # fmt: skip
        give_state = GIVE_STATE
        router.command(
            "status",
            summary="Change the state of a ticket or incident (reporters: see their incident)",
            usage="status T-N|INC-N <state>", permission=team, group=group,
            args=(
                replace(case, missing=give_state), Arg("state", missing=give_state),
                Arg("rest", ArgKind.TEXT, optional=True),
            ),
            # A reporter may ask about their own case (kinds that offer it), in a DM.
            others=ForOthers(self.reporter_status, (Arg("case", ArgKind.CASE),)),
        )(self.status)  # fmt: skip
        router.command(
            "note", summary="Add an internal note (never shown to the reporter)",
            usage="note T-N|INC-N <text>", permission=team, group=group,
            args=(replace(case, missing=give_note), Arg("text", ArgKind.TEXT, missing=give_note)),
        )(self.note)  # fmt: skip

    async def show(self, ctx: CommandContext) -> Reply:
        """``!show T-N|INC-N``."""
        kind, number = await self.resolve(ctx, ctx.params["case"])
        return await kind.show(ctx, number)

    async def assign(self, ctx: CommandContext) -> Reply:
        """``!assign T-N|INC-N @user`` (a member of the security team)."""
        user = ctx.params["user"]
        require_team_member(ctx.services, user)
        kind, number = await self.resolve(ctx, ctx.params["case"])
        return await kind.assign(ctx, number, user)

    async def status(self, ctx: CommandContext) -> Reply:
        """``!status T-N|INC-N <state> [text]`` (security team)."""
        kind, number = await self.resolve(ctx, ctx.params["case"])
        state, rest = ctx.params["state"], ctx.params["rest"] or ""
        return await kind.set_status(ctx, number, state.lower(), rest)

    async def reporter_status(self, ctx: CommandContext) -> Reply | None:
        """A reporter's ``!status INC-N`` (None: refused like any team command)."""
        case: CaseRef = ctx.params["case"]
        kind = self.kinds.get(case.kind or "")
        if kind is None or not hasattr(kind, "reporter_status"):
            return None
        return await kind.reporter_status(ctx, case.number)

    async def note(self, ctx: CommandContext) -> Reply:
        """``!note T-N|INC-N <text>``: internal, never shown to the reporter."""
        kind, number = await self.resolve(ctx, ctx.params["case"])
        return await kind.note(ctx, number, ctx.params["text"])
