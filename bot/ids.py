"""Identifiers people type: Matrix user ids and case ids (``T-12``, ``INC-3``).

No imports from the rest of the bot, so config sections, commands and the web board can
all use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A Matrix user id: "@localpart:server" (the server may carry a port).
USER_ID = re.compile(r"^@[^:\s]+:\S+$")

USER_ID_EXAMPLE = "@name:example.org"


def is_user_id(text: str) -> bool:
    """Whether ``text`` is a whole Matrix user id like ``@name:example.org``."""
    return USER_ID.match(text) is not None


class UserId(str):
    """A validated Matrix user id (``@name:example.org``); build it with :meth:`parse`."""

    __slots__ = ()

    @classmethod
    def parse(cls, text: str) -> UserId:
        """``text`` as a user id; ValueError with a message fit to show a person."""
        if not isinstance(text, str) or not is_user_id(text):
            raise ValueError(f"{text!r} is not a Matrix user id like {USER_ID_EXAMPLE}")
        return cls(text)


def check_user_ids(values: list[str]) -> list[str]:
    """``values`` unchanged if each is a user id (a pydantic validator), else ValueError."""
    for value in values:
        UserId.parse(value)
    return values


# Case numbers, days, pages: ASCII digits only (str.isdigit() accepts "²", which int()
# refuses), and at most 9 of them, so every number fits a 32-bit database column.
_NUMBER = re.compile(r"[0-9]{1,9}")


def is_number(text: str) -> bool:
    """Whether ``text`` is a small non-negative number in ASCII digits (``"12"``)."""
    return _NUMBER.fullmatch(text) is not None


def parse_number(text: str) -> int | None:
    """``text`` as an int if :func:`is_number` accepts it, else None."""
    return int(text) if is_number(text) else None


TICKET = "T"
INCIDENT = "INC"

# "T-12", "t12", "INC-3", "inc3", "#12", "12" (the prefix is any word; callers check it).
_CASE = re.compile(r"(?:(?P<kind>[A-Za-z]+)-?)?#?(?P<number>[0-9]{1,9})")


@dataclass(frozen=True)
class CaseRef:
    """A case id: ``kind`` "T" (ticket) or "INC" (incident), or None for a bare number."""

    kind: str | None
    number: int

    def __str__(self) -> str:
        return f"{self.kind}-{self.number}" if self.kind else str(self.number)

    @classmethod
    def parse(cls, text: str) -> CaseRef:
        """``T-12``, ``t12``, ``INC-3``, ``#12`` or ``12``; ValueError for anything else."""
        match = _CASE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a case id like T-12 or INC-12")
        kind = match["kind"].upper() if match["kind"] else None
        return cls(kind, int(match["number"]))

    @classmethod
    def parse_as(cls, text: str, kind: str) -> int | None:
        """The number of ``text`` read as a ``kind`` id (a bare number counts), else None."""
        try:
            ref = cls.parse(text)
        except ValueError:
            return None
        return ref.number if ref.kind in (None, kind) else None

    @classmethod
    def ticket(cls, number: int) -> CaseRef:
        return cls(TICKET, number)

    @classmethod
    def incident(cls, number: int) -> CaseRef:
        return cls(INCIDENT, number)
