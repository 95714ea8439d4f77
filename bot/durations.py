"""Human-friendly durations in config files: ``4h``, ``30m``, ``1h30m``, ``90s``, ``2d``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(value: Any) -> Any:
    """Turn ``4h``/``30m``/``1h30m``/``90s``/``2d`` or a number of seconds into a timedelta.

    Anything else is passed on unchanged, so pydantic reports it under the key's name.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return timedelta(seconds=float(text))
        parts = _PART.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def hours(n: float) -> timedelta:
    """A default duration of ``n`` hours."""
    return timedelta(hours=n)


def minutes(n: float) -> timedelta:
    """A default duration of ``n`` minutes."""
    return timedelta(minutes=n)
