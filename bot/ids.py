"""Matrix identifiers (no imports from the rest of the bot, so config sections can use it)."""

from __future__ import annotations

import re

# A Matrix user id: "@localpart:server" (the server may carry a port).
USER_ID = re.compile(r"^@[^:\s]+:\S+$")


def is_user_id(text: str) -> bool:
    """Whether ``text`` is a whole Matrix user id like ``@name:example.org``."""
    return USER_ID.match(text) is not None


# Case numbers, days, pages: ASCII digits only (str.isdigit() accepts "²", which int()
# refuses), and at most 9 of them, so every number fits a 32-bit database column.
_NUMBER = re.compile(r"[0-9]{1,9}")


def is_number(text: str) -> bool:
    """Whether ``text`` is a small non-negative number in ASCII digits (``"12"``)."""
    return _NUMBER.fullmatch(text) is not None


def parse_number(text: str) -> int | None:
    """``text`` as an int if :func:`is_number` accepts it, else None."""
    return int(text) if is_number(text) else None
