"""Where shipped data files are found (no imports from the rest of the bot: no cycles)."""

from __future__ import annotations

from pathlib import Path

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
