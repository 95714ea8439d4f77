"""What a feature's service knows about whoever acts: plain values, never a chat message.

Services take an :class:`Act` (or plain arguments), never a ``CommandContext``: a chat
handler translates its context with :func:`act_of`; the web board builds one from the
signed-in person and its own event id (``bot/web/actions.py``). The messages an act causes
are collected in ``out`` and queued by the caller after its transaction, exactly like a
chat command's further messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import Outbound

if TYPE_CHECKING:
    from bot.commands.context import CommandContext
    from bot.services import Services


@dataclass
class Act:
    """Who acts, when, because of which event, and what that queues."""

    session: AsyncSession
    services: Services
    by: str  # the user id of whoever acts
    now: datetime
    cause: str  # the id of the event that caused it: keys the messages it sends
    out: list[Outbound] = field(default_factory=list)  # queued after the transaction

    def send(self, message: Outbound) -> None:
        """Queue a further message (sent after the caller's transaction commits)."""
        self.out.append(message)


def act_of(ctx: CommandContext) -> Act:
    """A chat command as an :class:`Act` (its messages go to the command's outbound list)."""
    return Act(ctx.session, ctx.services, ctx.sender, ctx.now, ctx.message.event_id, ctx.outbound)
