"""Value objects that flow through the router: the incoming message, replies, context."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.services import Services


class RoomKind(StrEnum):
    HELPDESK = "helpdesk"
    TRIAGE = "triage"
    DIRECT = "direct"
    OTHER = "other"


@dataclass(frozen=True)
class IncomingMessage:
    """A text message from a person, free of any Matrix library type."""

    event_id: str
    room_id: str
    sender: str
    body: str
    timestamp: datetime
    room_kind: RoomKind
    formatted_body: str | None = None
    mentions_bot: bool = False
    in_reply_to: str | None = None
    thread_root: str | None = None

    @property
    def is_direct(self) -> bool:
        """Whether this came from a DM with the bot (where every message is for it)."""
        return self.room_kind is RoomKind.DIRECT


@dataclass(frozen=True)
class Reaction:
    """A reaction (e.g. 👍 or 📌) on a message in a room the bot is in."""

    event_id: str
    room_id: str
    sender: str
    key: str
    target_event_id: str
    timestamp: datetime
    room_kind: RoomKind


@dataclass(frozen=True)
class Redaction:
    """Someone removed an event (e.g. took back a reaction) in a room the bot is in."""

    event_id: str
    room_id: str
    sender: str
    redacts: str
    timestamp: datetime
    room_kind: RoomKind


@dataclass(frozen=True)
class Reply:
    """What a handler answers: one Markdown body, rendered to HTML and plain text once.

    Build it with :mod:`bot.messaging.md`: user text through ``md.escape`` (shown as
    written), people through ``md.mention``, commands written ``{prefix}name``.
    """

    text: str
    mentions: tuple[str, ...] = ()
    react: str | None = None  # acknowledge with a reaction instead of a message

    @classmethod
    def reaction(cls, key: str = "✅") -> Reply:
        """A reply that only reacts to the message."""
        return cls(text="", react=key)


@dataclass(frozen=True)
class Outbound:
    """A message to send somewhere other than in reply: a room, or a user's DM.

    ``text`` is Markdown, like :attr:`Reply.text`.
    """

    text: str
    room_id: str | None = None
    dm_user_id: str | None = None
    mentions: tuple[str, ...] = ()
    in_reply_to: str | None = None
    notice: bool = True
    # An outbox key of its own (not derived from the event being handled), so the row
    # shares nothing with the other messages that event caused (anonymous tickets).
    txn_key: str | None = None
    # The idempotency key the caller chose (still recorded as caused by the event); by
    # default the router numbers a handler's messages after the event's id.
    key: str | None = None
    # A message to one person: erased from the outbox once sent (see Outbox.add).
    private: bool = False

    def __post_init__(self) -> None:
        if (self.room_id is None) == (self.dm_user_id is None):
            raise ValueError("an Outbound needs exactly one of room_id or dm_user_id")


@dataclass
class CommandContext:
    """Everything a handler may use; it never touches the Matrix client."""

    message: IncomingMessage
    command: str
    args: str
    session: AsyncSession
    services: Services
    is_security_team: bool
    outbound: list[Outbound] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # Declared arguments, parsed (see bot.commands.registry.Arg); the sub-command's name.
    params: dict[str, Any] = field(default_factory=dict)
    subcommand: str = ""

    @property
    def sender(self) -> str:
        return self.message.sender

    @property
    def now(self) -> datetime:
        return self.services.clock()

    @property
    def argv(self) -> list[str]:
        """The arguments split on white space."""
        return self.args.split()

    def send(self, out: Outbound) -> None:
        """Queue a further message (sent after the handler's transaction commits)."""
        self.outbound.append(out)
