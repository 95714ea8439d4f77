"""Delivery: the outbox queues, their errors, and the operators' view of dead letters."""

from bot.outbox.errors import Failure, SendError, Transport, classify_http
from bot.outbox.queue import LEASE, SCRUBBED_CONTENT, Outbox, to_the_hour, txn_id_for
from bot.outbox.store import PendingSend

__all__ = [
    "LEASE",
    "SCRUBBED_CONTENT",
    "Failure",
    "Outbox",
    "PendingSend",
    "SendError",
    "Transport",
    "classify_http",
    "to_the_hour",
    "txn_id_for",
]
