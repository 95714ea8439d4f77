"""What the bot says: one Markdown body, where it goes, and what it is about."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ToRoom:
    """Post in a room."""

    room_id: str


@dataclass(frozen=True)
class ToPerson:
    """Send to a person's DM (opened on demand by the outbox)."""

    user_id: str


@dataclass(frozen=True)
class ReplyTo:
    """Answer an event, as a reply relation."""

    room_id: str
    event_id: str


@dataclass(frozen=True)
class InThread:
    """Post in the thread under ``root_event_id``."""

    room_id: str
    root_event_id: str
    in_reply_to: str | None = None  # the event answered inside the thread, if any


Target = ToRoom | ToPerson | ReplyTo | InThread


@dataclass(frozen=True)
class Subject:
    """What a message is about, e.g. ``Subject("incident", 12, "post")``.

    Features find their messages again by subject (:meth:`Messenger.sent_event`) and
    learn what a reacted-to message was (:meth:`Messenger.subject_of`), instead of
    reading the outbox's table.
    """

    kind: str
    id: int | str
    part: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}:{self.part}"

    @classmethod
    def parse(cls, text: str) -> Subject:
        """The inverse of ``str(subject)``."""
        kind, ident, part = text.split(":", 2)
        return cls(kind, int(ident) if ident.isdigit() else ident, part)


@dataclass(frozen=True)
class Message:
    """One message, written once in Markdown (user text embedded with ``md.escape``).

    Args:
        body: the Markdown text; rendered to HTML and plain text when queued.
        to: where it goes.
        key: the idempotency key (the same key twice queues one message; the Matrix
            transaction id is derived from it, so a resend after a crash is
            de-duplicated by the homeserver). Callers must choose it: an event id they
            answer, or a stable name such as ``incident:12:post``.
        mentions: user ids pinged on purpose (``m.mentions``); nobody else is.
        subject: what the message is about, to find it again later.
        notice: ``m.notice`` (bots never answer notices) rather than ``m.text``.
        private: a message to one person (every DM is): erased once sent.
        source_event_id: the event that caused it (its redaction erases the copy).
    """

    body: str
    to: Target
    key: str
    mentions: tuple[str, ...] = ()
    subject: Subject | None = None
    notice: bool = True
    private: bool = False
    source_event_id: str | None = None

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a Message needs an idempotency key")
