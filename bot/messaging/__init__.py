"""One way to say something: a Markdown :class:`Message`, posted by the :class:`Messenger`.

Features compose one Markdown body (user text through :func:`md.escape`, people through
:func:`md.mention`, commands through ``{prefix}``), choose a target and an idempotency
key, and ``Messenger.post`` it inside their transaction; ``bot.matrix.render`` turns it
into HTML and plain text. ``sent_event(subject)`` and ``subject_of(event_id)`` answer
what was sent about what, so no feature reads the outbox's table.
"""

from bot.matrix.render import markdown_html
from bot.messaging import md
from bot.messaging.message import InThread, Message, ReplyTo, Subject, Target, ToPerson, ToRoom
from bot.messaging.messenger import Messenger, Sent, content_for

__all__ = [
    "InThread",
    "Message",
    "Messenger",
    "ReplyTo",
    "Sent",
    "Subject",
    "Target",
    "ToPerson",
    "ToRoom",
    "content_for",
    "markdown_html",
    "md",
]
