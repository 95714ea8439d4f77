"""Where files are: shipped data files, and the private modes of what the bot writes.

No imports from the rest of the bot (no cycles).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def resolve_data_file(path: Path) -> Path:
    """A data file named in the config (playbooks, tips): as given, else the shipped one.

    Relative paths are tried against the working directory first, then against the
    project root, where ``config/playbooks.yaml`` and ``config/tips.yaml`` ship; so a bot
    started from another directory (or by a service manager) still finds the defaults.
    """
    if path.is_absolute() or path.exists():
        return path
    shipped = PROJECT_ROOT / path
    return shipped if shipped.exists() else path


# --- Data at rest: everything the bot writes is for its own user only -------------------

PRIVATE_UMASK = 0o077  # new files 0600, new directories 0700
FILE_MODE = 0o600
DIR_MODE = 0o700


def set_private_umask() -> int:
    """Make every file the process creates from now on private; returns the old umask."""
    return os.umask(PRIVATE_UMASK)


def tighten(path: Path, mode: int) -> bool:
    """Give ``path`` at most ``mode``; warn when it was open to others. True if changed."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    if current & ~mode & 0o777 == 0:
        return False
    path.chmod(current & mode)
    log.warning(
        "%s was readable by other users (mode %03o); tightened to %03o",
        path,
        current,
        current & mode,
    )
    return True


def private_dir(path: Path) -> Path:
    """Create ``path`` (0700) or tighten an existing one; returns it."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    tighten(path, DIR_MODE)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by this user only (also when it existed)."""
    tighten(path, FILE_MODE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def private_sqlite(database: str | None) -> None:
    """Tighten a SQLite database file and its journals (the directory is created 0700)."""
    if not database or database == ":memory:":
        return
    path = Path(database)
    if not path.parent.exists():
        private_dir(path.parent)
    for suffix in ("", "-wal", "-shm", "-journal"):
        tighten(path.with_name(path.name + suffix), FILE_MODE)


def private_store(store: Path) -> None:
    """The crypto store directory (0700) and every file in it (0600)."""
    private_dir(store)
    for child in store.rglob("*"):
        tighten(child, DIR_MODE if child.is_dir() else FILE_MODE)
