"""What a queued message is (for dead-letter notices) and how urgent (its priority)."""

from __future__ import annotations

# Higher goes first within a destination, and destinations whose next message is more
# urgent are served first. Order is kept among messages of one priority in one room.
PRIORITY = {
    "page": 30,
    "incident": 20,
    "dead_letter": 15,
    "reply": 0,
    "nudge": 0,
    "tip": -10,
}


def kind_for(txn_key: str) -> str:
    """The kind of a message, from the stable key its feature queued it under.

    Features name their keys ``incident:<n>:page:<user>``, ``escalate:<n>:<level>``,
    ``tip:...``, ``tickets:nudge:...``; replies are keyed by the event they answer.
    """
    if txn_key.startswith(("incident:", "escalate:")):
        return "page" if (":page:" in txn_key or ":dm:" in txn_key) else "incident"
    if txn_key.startswith("outbox:dead:"):
        return "dead_letter"
    if txn_key.startswith("tip:"):
        return "tip"
    if txn_key.startswith("tickets:nudge:"):
        return "nudge"
    return "reply"


def priority_for(kind: str) -> int:
    """The priority of ``kind`` (0 for kinds not listed)."""
    return PRIORITY.get(kind, 0)
