"""Start-up objects are frozen out of the cyclic collector's full collections."""

from __future__ import annotations

import gc

from bot.heap import freeze_startup_objects


def test_freeze_leaves_full_collections_only_what_came_after() -> None:
    keep = [[i] for i in range(100_000)]  # long-lived start-up state
    gc.collect()
    assert len(gc.get_objects(generation=2)) > len(keep)  # what a full collection walks
    try:
        assert freeze_startup_objects() > len(keep)
        assert len(gc.get_objects(generation=2)) < 1000
        later = [[i] for i in range(10)]
        gc.collect()
        assert len(gc.get_objects(generation=2)) < 1000 + len(later) * 2
    finally:
        gc.unfreeze()
    del keep
