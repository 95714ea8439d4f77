"""The bot's router over a real database, fed plain IncomingMessages, no homeserver.

`Desk` builds `Services` (settings, database, outbox, scheduler, a static directory, the
room ids and a `ManualClock`) and a router, lets a test talk to it (`say`, `react`) and
reads what the bot queued in the outbox. Feature test packages subclass it for their own
names (bot user, rooms, people) and conveniences; `make_settings`, `make_services` and
`incoming` are there for tests that build the pieces themselves.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.app import build_router
from bot.clock import ManualClock
from bot.commands.context import IncomingMessage, Reaction, RoomKind
from bot.commands.router import Router
from bot.features import Plugin, default_plugins
from bot.outbox import Outbox
from bot.scheduler import Scheduler
from bot.services import RoomIds, Services, StaticDirectory
from bot.settings import Settings
from bot.storage import Database
from bot.storage.models import HandledEvent, OutboxMessage
from tests.support.outbox_rows import rendered_rows

BOT = "@bot:test"
HELPDESK = "!helpdesk:test"
TRIAGE = "!triage:test"
LEAD = "@lead:test"  # security team by config
MEMBER = "@member:test"  # security team by being in the triage room
ALICE = "@alice:test"  # everyone else
START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)


def make_settings(
    db_url: str | None = None,
    *,
    bot_user: str = BOT,
    server: str = "test",
    security_team: Iterable[str] = (LEAD,),
    **overrides: Any,
) -> Settings:
    """Settings for ``bot_user``, rooms ``#helpdesk:<server>`` and ``#triage:<server>``.

    ``overrides`` replace whole top-level sections (``tickets={...}``, ``bot={...}``).
    Without ``db_url`` the database section keeps its default.
    """
    data: dict[str, Any] = {
        "matrix": {"homeserver": "http://127.0.0.1:1", "user_id": bot_user, "password": "x" * 8},
        "rooms": {"helpdesk": f"#helpdesk:{server}", "triage": f"#triage:{server}"},
        "security_team": list(security_team),
    }
    if db_url is not None:
        data["database"] = {"url": db_url}
    # Abuse limits off unless a test is about them (tests send bursts on a still clock).
    data["limits"] = {"enabled": False}
    data.update(overrides)
    return Settings(**data)


def make_services(
    db: Database,
    settings: Settings,
    *,
    clock: ManualClock,
    helpdesk: str = HELPDESK,
    triage: str = TRIAGE,
    triage_members: Iterable[str] = (BOT, LEAD, MEMBER),
) -> Services:
    """`Services` on ``db`` with a static directory: ``triage_members`` are in the triage room."""
    return Services(
        settings=settings,
        db=db,
        outbox=Outbox(db, clock=clock),
        scheduler=Scheduler(),
        directory=StaticDirectory({triage: set(triage_members)}),
        rooms=RoomIds(helpdesk=helpdesk, triage=triage),
        clock=clock,
    )


def incoming(
    body: str,
    *,
    sender: str,
    room_id: str,
    kind: RoomKind,
    timestamp: datetime,
    event_id: str | None = None,
    in_reply_to: str | None = None,
    thread_root: str | None = None,
    mentions_bot: bool = False,
    formatted_body: str | None = None,
) -> IncomingMessage:
    """An IncomingMessage with a fresh event id unless ``event_id`` is given."""
    return IncomingMessage(
        event_id=event_id or f"$ev{next(_ids)}",
        room_id=room_id,
        sender=sender,
        body=body,
        timestamp=timestamp,
        room_kind=kind,
        in_reply_to=in_reply_to,
        thread_root=thread_root,
        mentions_bot=mentions_bot,
        formatted_body=formatted_body,
    )


def reply_target(row: OutboxMessage) -> str | None:
    """The event a queued message replies to (None: not a reply)."""
    return ((row.content.get("m.relates_to") or {}).get("m.in_reply_to") or {}).get("event_id")


class Desk:
    """The router and services, with helpers to talk and to read what the bot queued.

    Subclasses change the class attributes for their own names, ``features`` to set up only
    some features, and add conveniences on top of `message`/`say` and the readers.
    """

    bot_user: str = BOT
    server: str = "test"  # rooms are configured as #helpdesk:<server>, #triage:<server>
    helpdesk: str = HELPDESK
    triage: str = TRIAGE
    security_team: tuple[str, ...] = (LEAD,)
    triage_members: tuple[str, ...] = (BOT, LEAD, MEMBER)
    start: datetime = START

    def __init__(self, db: Database, settings: Settings | None = None, **overrides: Any):
        """``overrides`` are settings sections (see `make_settings`), unless ``settings``."""
        self.db = db
        self.clock = ManualClock(self.start)
        self.services = make_services(
            db,
            settings or self.make_settings(db.url, **overrides),
            clock=self.clock,
            helpdesk=self.helpdesk,
            triage=self.triage,
            triage_members=self.triage_members,
        )
        self.router: Router = self.build_router()
        self.dms: dict[str, str] = {}

    def make_settings(self, db_url: str | None, **overrides: Any) -> Settings:
        return make_settings(
            db_url,
            bot_user=self.bot_user,
            server=self.server,
            security_team=self.security_team,
            **overrides,
        )

    loaded: list[Plugin]  # what build_router built the router with

    def plugins(self) -> list[Plugin] | None:
        """The features under test, built for ``self.services`` (None: all, as the app has)."""
        return None

    def build_router(self) -> Router:
        """The router with the built-in commands and `plugins` (kept in ``self.loaded``)."""
        plugins = self.plugins()
        if plugins is None:
            self.loaded = default_plugins(self.services)
            return build_router(self.services, self.loaded)
        self.loaded = plugins
        return build_router(self.services, plugins, web=False)

    def plugin(self, name: str) -> Plugin:
        """The plugin called ``name`` the router was built with."""
        return next(p for p in self.loaded if p.name == name)

    async def close(self) -> None:
        await self.services.scheduler.stop()

    # --- talking to the bot ---

    def dm_of(self, user: str) -> str:
        # Opaque, like real room ids (a room id must not give the user away).
        return self.dms.setdefault(user, f"!dm{len(self.dms) + 1}:test")

    def room(self, room: str, sender: str) -> tuple[str, RoomKind]:
        """Room id and kind of ``room``: "helpdesk", "triage", "dm" (``sender``'s) or an id."""
        if room == "dm":
            return self.dm_of(sender), RoomKind.DIRECT
        room_id = {"helpdesk": self.helpdesk, "triage": self.triage}.get(room, room)
        kinds = {self.helpdesk: RoomKind.HELPDESK, self.triage: RoomKind.TRIAGE}
        return room_id, kinds.get(room_id, RoomKind.DIRECT)

    def message(
        self,
        body: str,
        *,
        sender: str = ALICE,
        room: str = "dm",
        kind: RoomKind | None = None,
        **fields: Any,
    ) -> IncomingMessage:
        """A message from ``sender`` in ``room`` (see `room`); ``fields`` as in `incoming`."""
        room_id, room_kind = self.room(room, sender)
        return incoming(
            body,
            sender=sender,
            room_id=room_id,
            kind=kind or room_kind,
            timestamp=self.clock(),
            **fields,
        )

    async def say(self, body: str, **kwargs: Any) -> tuple[IncomingMessage, bool]:
        """Handle one message (arguments as in `message`); the message and whether handled."""
        msg = self.message(body, **kwargs)
        return msg, await self.router.handle(msg)

    async def react(
        self, target: str, key: str = "📌", *, sender: str = LEAD, room: str = "triage"
    ) -> None:
        """React with ``key`` to event ``target``."""
        room_id, kind = self.room(room, sender)
        await self.router.handle_reaction(
            Reaction(f"$r{next(_ids)}", room_id, sender, key, target, self.clock(), kind)
        )

    # --- what the bot queued ---

    async def rows(self) -> list[OutboxMessage]:
        """Every outbox row, oldest first, its content as it will be sent (Markdown rendered).

        The rows are detached copies: changing them changes nothing in the database.
        """
        return await rendered_rows(self.db)

    async def from_event(self, event_id: str) -> list[OutboxMessage]:
        """Rows queued while handling ``event_id`` (the reply first, if any)."""
        return [r for r in await self.rows() if r.source_event_id == event_id]

    async def reply_to(self, event_id: str) -> OutboxMessage | None:
        """The bot's reply to ``event_id`` (None: no reply)."""
        for row in await self.rows():
            if reply_target(row) == event_id:
                return row
        return None

    async def to_room(self, room_id: str) -> list[str]:
        """Bodies queued for room ``room_id``."""
        return [r.content["body"] for r in await self.rows() if r.room_id == room_id]

    async def to_dm(self, user: str) -> list[str]:
        """Bodies queued for ``user``'s DM."""
        return [r.content["body"] for r in await self.rows() if r.dm_user_id == user]

    async def mark_sent(self) -> None:
        """Pretend the outbox sent everything: event id '$sent-<row id>', DMs get a room."""
        async with self.db.sessions.begin() as session:
            for row in await session.scalars(select(OutboxMessage)):
                if row.sent_event_id is None:
                    row.sent_event_id = f"$sent-{row.id}"
                    row.sent_at = self.clock()
                    if row.room_id is None:
                        row.room_id = self.dm_of(row.dm_user_id)

    async def handled(self, event_id: str) -> bool:
        """Whether the router recorded ``event_id`` as handled."""
        async with self.db.sessions() as session:
            return await session.get(HandledEvent, event_id) is not None
