"""Matrix identifiers (no imports from the rest of the bot, so config sections can use it)."""

from __future__ import annotations

import re

# A Matrix user id: "@localpart:server" (the server may carry a port).
USER_ID = re.compile(r"^@[^:\s]+:\S+$")


def is_user_id(text: str) -> bool:
    """Whether ``text`` is a whole Matrix user id like ``@name:example.org``."""
    return USER_ID.match(text) is not None
