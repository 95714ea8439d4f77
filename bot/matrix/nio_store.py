"""nio's default crypto store, minus a write per sync that changes nothing.

After every sync with joined rooms nio saves the whole set of encrypted rooms again
(``INSERT ... ON CONFLICT IGNORE`` of every room in one transaction). The rows are the
same every time; through peewee it cost about 25 ms of CPU per sync on the event loop
(blocking it), more than everything else the bot does for a ``!ping``. This store
skips the save when the set is the one it last saved or loaded; any change is saved
as before.
"""

from __future__ import annotations

from collections.abc import Iterable

from nio.store import DefaultStore


class SyncStore(DefaultStore):
    """:class:`nio.store.DefaultStore` that does not re-save an unchanged room set."""

    _saved_rooms: frozenset[str] | None = None

    def load_encrypted_rooms(self) -> set[str]:
        rooms = super().load_encrypted_rooms()
        self._saved_rooms = frozenset(rooms)
        return rooms

    def save_encrypted_rooms(self, rooms: Iterable[str]) -> None:
        current = frozenset(rooms)
        if current == self._saved_rooms:
            return
        super().save_encrypted_rooms(current)
        self._saved_rooms = current

    def delete_encrypted_room(self, room: str) -> None:
        super().delete_encrypted_room(room)
        self._saved_rooms = None
