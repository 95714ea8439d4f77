"""Who is on call now, read from the incidents feature (the one place that asks it).

The incidents rotation may change shape; only this function knows how to call it. Any
failure there means "nobody known", never a crash of an ownership answer.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


def on_call_now(services: Services | None, now: datetime) -> list[str]:
    """The security on-call for ``now`` (primary first), or [] if none is known."""
    if services is None:
        return []
    try:
        from bot.features.incidents.service import oncall

        return list(oncall(services, now))
    except Exception:  # the rotation is another feature's: never break an answer over it
        log.warning("ownership: could not read the on-call rotation", exc_info=True)
        return []
