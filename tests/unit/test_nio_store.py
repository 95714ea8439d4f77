"""The crypto store does not rewrite the set of encrypted rooms when it has not changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from nio.store import DefaultStore

from bot.matrix.nio_store import SyncStore


def test_nio_store_saves_the_encrypted_rooms_only_when_they_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved: list[frozenset[str]] = []
    monkeypatch.setattr(DefaultStore, "save_encrypted_rooms", lambda _s, r: saved.append(r))
    monkeypatch.setattr(DefaultStore, "load_encrypted_rooms", lambda _s: {"!a"})
    monkeypatch.setattr(DefaultStore, "delete_encrypted_room", lambda _s, _r: None)
    store = SyncStore("@bot:hs", "DEVICE", str(tmp_path))

    assert store.load_encrypted_rooms() == {"!a"}
    store.save_encrypted_rooms({"!a"})  # what was loaded: nothing to write
    assert saved == []
    store.save_encrypted_rooms({"!a", "!b"})  # a room became encrypted
    store.save_encrypted_rooms({"!b", "!a"})  # every later sync: the same set
    assert saved == [frozenset({"!a", "!b"})]
    store.delete_encrypted_room("!b")  # forgotten: the next save writes again
    store.save_encrypted_rooms({"!a"})
    assert saved == [frozenset({"!a", "!b"}), frozenset({"!a"})]
