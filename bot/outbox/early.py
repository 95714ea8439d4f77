"""A plain reply sent while its transaction commits (SQLite: one process, one device).

The usual way a reply goes out is: the handler's transaction commits (the handled mark
and the reply row, with an fsync), the sender is handed the destination, reads the head
of its queue and sends it. For a reply to a message whose handler changed nothing, that
wait is the whole of the bot's own share of the round trip. So here, while the
transaction is still open, :meth:`Early.start_early` reads the head of the destination's
queue in that transaction and, if the reply is the head, starts sending it at once; the
commit goes on beside the request. The "sent" mark is written once both are done.

Why no message can be lost, doubled or reordered by this:

- **Order.** The head is read inside the handler's write transaction (the claim took
  SQLite's one write lock), so no row of any process can be committed ahead of the
  reply meanwhile, and no worker of this process is sending to that destination (it is
  marked busy until the mark is written).
- **Doubled.** The event's transaction id is derived from the event the reply answers
  (:func:`bot.outbox.txn_id_for`), and the homeserver de-duplicates a resend with the
  same id from the same device: whatever happens after the request left (the commit
  fails, the process is killed before the commit, the mark is lost at a power cut), the
  event is handled again or the row is sent again with the same id, and the room gets
  the first event, once (Synapse keeps a device's transaction ids for a day; a
  failed commit is retried within seconds). This is the bargain every "sent" mark
  already makes (``Database.relaxed_sessions``). It holds for one device only, which is why this is
  SQLite's path: on PostgreSQL another replica, another device, may take over.
- **Changed its mind.** Only for a handler that wrote nothing but the handled mark and
  this one reply (:func:`bot.storage.sqlite_driver.has_written` before the claim):
  handled again after a failed commit, its reply (even if worded differently by then)
  goes with the same id and the homeserver keeps the first; nothing else (no ticket, no
  page) depended on the lost commit.
- **Lost.** A request that fails leaves the row pending, recorded as a failed attempt
  once the commit is known; a commit that fails leaves no row and the event unhandled,
  to be handled again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from bot.logs import log_unexpected
from bot.outbox import hints, store
from bot.outbox.delivery import Delivery
from bot.outbox.errors import SendError, Transport
from bot.outbox.store import PendingSend

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

_ADDED = "outbox_added"  # session.info: txn ids this transaction queued
_EARLY = "outbox_early"  # session.info: the EarlySend waiting for this transaction's end
OUTCOME_TIMEOUT = 60.0  # no word of the transaction's end: let the worker look instead


def note_added(session: AsyncSession, txn_id: str) -> None:
    """Remember that this session's transaction queued ``txn_id``."""
    session.info.setdefault(_ADDED, set()).add(txn_id)


class EarlySend:
    """One reply on its way before its transaction's outcome is known."""

    def __init__(self) -> None:
        self._outcome: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None

    def committed(self) -> None:
        """The transaction that queued the reply committed."""
        if not self._outcome.done():
            self._outcome.set_result(True)

    def abandoned(self) -> None:
        """It did not (rolled back, failed, cancelled); a no-op after :meth:`committed`."""
        if not self._outcome.done():
            self._outcome.set_result(False)

    async def outcome(self) -> bool:
        """Whether the reply's row exists (waits for the transaction's end).

        False also when no end was heard of in :data:`OUTCOME_TIMEOUT`: the row is then
        not marked here, and the worker sends it (again, de-duplicated) if it exists.
        """
        try:
            return await asyncio.wait_for(asyncio.shield(self._outcome), OUTCOME_TIMEOUT)
        except TimeoutError:
            log.error("no end of the transaction of an early reply was seen")
            return False


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    early = session.info.get(_EARLY)
    if early is not None:
        early.committed()


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole transaction, not a savepoint
        early = session.info.pop(_EARLY, None)
        if early is not None:
            early.abandoned()  # a no-op after a commit
        session.info.pop(_ADDED, None)


class Early(Delivery):
    """:meth:`start_early`, for :class:`bot.outbox.Outbox` (its state is set up there)."""

    _transport: Transport | None
    _early: set[asyncio.Task[None]]
    _rescan: bool

    async def start_early(self, session: AsyncSession) -> EarlySend | None:
        """Start sending the one reply ``session``'s open transaction queued, if it may go
        now (see the module's docstring); None if it must wait for the commit as usual.

        The transaction's end is learnt from the session's events (``after_commit``,
        ``after_transaction_end``), whatever ends it: a commit, a rollback, a close.
        """
        transport = self._transport
        added = session.info.get(_ADDED)
        if transport is None or self._holds or not added or len(added) != 1:
            return None
        if self.db.dialect != "sqlite":
            return None
        destinations = hints.queued(session)
        if len(destinations) != 1:
            return None
        destination = next(iter(destinations))
        if destination in self._busy:
            return None
        token = self.fence()
        params = {"destination": destination, **store.fence_params(token)}
        row = (await session.execute(store.head_read(token is not None), params)).first()
        if (
            row is None
            or not row.current
            or row.txn_id not in added
            or row.room_id is None
            or row.next_attempt_at is not None
            or row.claimed_by is not None
        ):
            return None
        early = EarlySend()
        self._busy.add(destination)  # no worker of ours sends to it meanwhile
        item = store.to_pending(row)
        task = asyncio.create_task(
            self._send_early(transport, item, early), name=f"outbox:early:{destination}"
        )
        early.task = task
        session.info[_EARLY] = early
        self._early.add(task)
        task.add_done_callback(self._early.discard)
        return early

    async def _send_early(self, transport: Transport, item: PendingSend, early: EarlySend) -> None:
        destination = item.destination
        event_id: str | None = None
        failure: SendError | None = None
        try:
            try:
                event_id = await self._send(transport, item)
            except SendError as exc:
                failure = exc
            except Exception as exc:  # as in _drain: a bug must not lose the row
                log_unexpected(log, exc, "sending %s failed", item.txn_id)
                failure = SendError(f"unexpected {type(exc).__name__}")
            if not await early.outcome():
                return  # no row: the event is handled again, and sent with the same id
            if failure is None and not event_id:
                failure = SendError("no event id in the response")
            if failure is not None:
                await self._failed(item, failure)
                self._rescan = True  # the sender learns the retry time from the scan
            elif not await self._mark_sent(item, str(event_id)):
                log.error("sent %s but lost the active role before marking it", item.txn_id)
                self.hold(store.STALE_FENCE)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the worker finds the row pending and sends it again
            log_unexpected(log, exc, "recording the early send of %s failed", item.txn_id)
        finally:
            self._busy.discard(destination)
            self._hinted.add(destination)  # anything queued behind it, or its retry
            self._wake.set()

    async def _cancel_early(self) -> None:
        """Stop the early sends in flight (their rows stay pending: sent again later)."""
        tasks: list[Any] = list(self._early)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
