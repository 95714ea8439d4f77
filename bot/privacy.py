"""``!privacy`` and ``!forget me``: each feature says what it keeps about a person.

The app holds one :class:`PrivacyRegistry` and adds each plugin's providers to it
(``Plugin.privacy_providers()``, see ``bot.app.build_router``); ``!privacy`` asks every
provider for its part of the summary, ``!forget me`` asks every provider to erase what
its retention rules allow and to say what it must keep (and why). The foundation's own
part — the DM room, handled marks, the outbox — is :class:`CoreProvider`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import CommandContext, Outbound, Reply
from bot.commands.errors import UserError
from bot.commands.registry import Arg
from bot.messaging import md
from bot.storage.models import DirectRoom, KeyValue

if TYPE_CHECKING:
    from bot.commands.registry import Registry
    from bot.services import Services


@dataclass
class Forgotten:
    """What one provider erased, and what it kept with the reason."""

    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


ONLY_ME = "Say {prefix}forget me (you can only ask for yourself)."


class PrivacyProvider(Protocol):
    """One feature's part of ``!privacy`` and ``!forget me``."""

    name: str

    async def privacy_summary(self, session: AsyncSession, user_id: str) -> list[str]:
        """Lines saying what this feature stores about ``user_id``, how long, who sees it."""
        ...

    async def forget(self, session: AsyncSession, user_id: str) -> Forgotten:
        """Erase what may be erased about ``user_id`` (in the caller's transaction)."""
        ...


class PrivacyRegistry:
    """The providers, in registration order, and the two commands (:meth:`register`)."""

    def __init__(self, services: Services):
        self.providers: list[PrivacyProvider] = [CoreProvider(services)]

    def add(self, provider: PrivacyProvider) -> None:
        """Make ``provider`` part of ``!privacy`` and ``!forget me``."""
        self.providers.append(provider)

    async def summary(self, session: AsyncSession, user_id: str, prefix: str) -> str:
        lines = [f"What I store about you ({md.escape(user_id)}):"]
        for provider in self.providers:
            part = await provider.privacy_summary(session, user_id)
            if part:
                lines += ["", f"**{md.escape(provider.name)}:**", ""]
                lines += [f"- {md.escape(line)}" for line in part]
        lines += [
            "",
            "Who can see it: the security team sees tickets and incidents; the people who run "
            "this bot can read its database (anonymous tickets stay unlinked to you there).",
            f"To delete it: send `{prefix}forget me` to me in a direct message. I erase what my "
            "retention rules allow and tell you what I must keep.",
        ]
        return "\n".join(lines)

    async def forget(self, session: AsyncSession, user_id: str) -> str:
        removed: list[str] = []
        kept: list[str] = []
        for provider in self.providers:
            done = await provider.forget(session, user_id)
            removed += done.removed
            kept += done.kept
        lines = [
            "Done. Erased:",
            "",
            *(f"- {md.escape(r)}" for r in removed or ["nothing to erase"]),
        ]
        if kept:
            lines += ["", "Kept, and why:", "", *(f"- {md.escape(k)}" for k in kept)]
        return "\n".join(lines)

    def register(self, router: Registry) -> None:
        """Add ``!privacy`` and ``!forget me`` to ``router``."""
        p = router.prefix

        @router.command(
            "privacy",
            summary="What I store about you, for how long, and who can see it",
            usage="privacy",
            group="Privacy",
        )
        async def privacy(ctx: CommandContext) -> Reply:
            text = await self.summary(ctx.session, ctx.sender, p)
            if ctx.message.is_direct:
                return Reply(text)
            ctx.send(Outbound(text, dm_user_id=ctx.sender, private=True))
            return Reply("I've sent you the answer in a direct message.")

        @router.command(
            "forget",
            summary="Erase what I store about you (as far as retention allows)",
            usage="forget me",
            group="Privacy",
            args=(Arg("who", choices=("me",), missing=ONLY_ME, invalid=ONLY_ME),),
            extra=ONLY_ME,
        )
        async def forget(ctx: CommandContext) -> Reply:
            if not ctx.message.is_direct:
                raise UserError(f"To be sure it is you, send `{p}forget me` in a direct message.")
            return Reply(await self.forget(ctx.session, ctx.sender))


class CoreProvider:
    """The foundation: the DM room used to reach you, handled marks, the outbox."""

    name = "Direct messages"

    def __init__(self, services: Services):
        self.services = services

    async def privacy_summary(self, session: AsyncSession, user_id: str) -> list[str]:
        days = self.services.settings.bot.handled_retention_days
        lines = [
            f"which messages I have handled (event and room ids, no text) for {days} days",
            "what I send is queued in my outbox; messages to one person are erased from it "
            "as soon as they are sent",
        ]
        if await session.get(DirectRoom, user_id) is not None:
            lines.insert(0, "the id of our direct-message room (to reach you privately)")
        return lines

    async def forget(self, session: AsyncSession, user_id: str) -> Forgotten:
        done = Forgotten()
        row = await session.get(DirectRoom, user_id)
        if row is not None:
            await session.execute(
                delete(KeyValue).where(KeyValue.key == f"direct_invite:{row.room_id}")
            )
            await session.delete(row)
            done.removed.append(
                "the record of our direct-message room (to talk to me again, open a new one)"
            )
        days = self.services.settings.bot.handled_retention_days
        done.kept.append(
            f"marks of handled messages (ids only, no text) for up to {days} days, so I never "
            "answer one twice"
        )
        return done
