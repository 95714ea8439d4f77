"""The ownership feature."""

from __future__ import annotations

from bot.features import Feature


def _setup(services, router) -> None:  # type: ignore[no-untyped-def]
    """Not built yet: see the ownership issue."""


feature = Feature(name="ownership", setup=_setup)
