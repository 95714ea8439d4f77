"""The map learns from its misses.

Every fallback and every "which one?" is recorded as its *subject words* only (the
normalised words the matcher saw; never the sender, the room or the message). A weekly
digest (``ownership.misses_digest_every``) in the triage room lists the top unanswered
subjects with a suggestion for each: an alias for the closest area, or a new area.
``!owners misses`` shows the same on demand; ``!owners learn <n>`` accepts suggestion
``n`` in one command.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import Reply
from bot.commands.errors import UserError
from bot.features.ownership import repository
from bot.features.ownership.models import Area, Miss
from bot.features.ownership.text import name_key
from bot.messaging import Message, Messenger, ToRoom
from bot.messaging.md import code, escape
from bot.storage import kv

if TYPE_CHECKING:
    from bot.features.ownership.service import OwnershipService
    from bot.services import Services

log = logging.getLogger(__name__)
DIGEST_KEY = "ownership.misses_digest_at"
TOP = 10


@dataclass(frozen=True)
class MissGroup:
    number: int  # the id of its latest miss: stable between listings
    subject: str
    count: int
    near: str | None

    @property
    def suggestion(self) -> str:
        if self.near:
            return f'add alias "{self.subject}" to {self.near}'
        return f'add a new area "{self.subject.capitalize()}" (no owner yet: it shows in gaps)'


async def top_misses(session: AsyncSession, limit: int = TOP) -> list[MissGroup]:
    """The most asked unanswered subjects, most frequent first."""
    rows = list(await session.scalars(select(Miss).where(Miss.resolved.is_(False))))
    counts = Counter(r.subject for r in rows)
    latest: dict[str, int] = {}
    near: dict[str, Counter[str]] = {}
    for r in rows:
        latest[r.subject] = max(latest.get(r.subject, 0), r.id)
        if r.near:
            near.setdefault(r.subject, Counter())[r.near] += 1
    groups = [
        MissGroup(latest[s], s, n, near[s].most_common(1)[0][0] if s in near else None)
        for s, n in counts.items()
    ]
    groups.sort(key=lambda g: (-g.count, g.subject))
    return groups[:limit]


def render(groups: list[MissGroup], prefix: str, title: str) -> Reply:
    """The list with a suggestion and its one-command acceptance for each subject."""
    if not groups:
        return Reply(f"{escape(title)}: none. Every question found its area.")
    text = [f"{escape(title)} (subject words only, most asked first):"]
    for g in groups:
        cmd = code(f"{prefix}owners learn {g.number}")
        text.append(f"- {escape(repr(g.subject))} ×{g.count}: {escape(g.suggestion)} → {cmd}")
    return Reply("\n".join(text))


async def learn(
    session: AsyncSession,
    service: OwnershipService,
    number: int,
    *,
    actor: str,
    now: datetime,
    prefix: str = "!",
) -> str:
    """Accept the suggestion for the subject of miss ``number``; says what changed.

    ``prefix``: the command prefix, for the hint that follows a new area.
    """
    miss = await session.get(Miss, number)
    if miss is None or miss.resolved:
        raise UserError(f"There is no open miss {number} (see `{{prefix}}owners misses`).")
    group = next((g for g in await top_misses(session, 10_000) if g.subject == miss.subject), None)
    near = group.near if group else miss.near
    if near:
        await service.edit(session, near, "aliases", miss.subject, actor=actor, now=now)
        done = f'New alias of {near}: "{miss.subject}"'
    else:
        name = miss.subject.capitalize()
        if await repository.area_by_name(session=session, name=name) is not None:
            raise UserError(f"An area called {escape(repr(name))} already exists.")
        session.add(Area(name=name, name_key=name_key(name), description="", aliases=[],
                         covers=[], owners=[], backups=[], contact="", security=False,
                         links=[], updated_at=now, updated_by=actor))  # fmt: skip
        await repository.add_audit(
            session=session, at=now, actor=actor, source="chat", action="create",
            kind="area", subject=name, new={"name": name, "from": "misses"},
        )  # fmt: skip
        await session.flush()
        await repository.bump_version(session=session, now=now)
        service.invalidate()
        done = f"New area {name} (no owner yet: set one with {prefix}owner set)"
    await session.execute(update(Miss).where(Miss.subject == miss.subject).values(resolved=True))
    return done


async def digest_due(services: Services, service: OwnershipService, prefix: str) -> bool:
    """Post the digest in the triage room if ``misses_digest_every`` has passed."""
    room = services.rooms.triage
    if room is None or not service.settings.record_misses:
        return False
    now = services.clock()
    async with services.db.sessions.begin() as session:
        last = await kv.get(session, DIGEST_KEY)
        # The first run only starts the clock: a digest covers a whole period.
        every = service.settings.misses_digest_every
        if last is not None and now - datetime.fromisoformat(last) < every:
            return False
        await kv.put(session, DIGEST_KEY, now.isoformat(), now=now)
        if last is None:
            return False
        groups = await top_misses(session)
        if not groups:
            return False
        reply = render(groups, prefix, "Weekly digest: questions the map could not answer")
        key = f"ownership-digest:{now:%Y%m%dT%H%M}"
        await Messenger.post(session, Message(reply.text, to=ToRoom(room), key=key))
    log.info("ownership: misses digest posted (%d subjects)", len(groups))
    services.outbox.wake()
    return True
