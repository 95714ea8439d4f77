"""The import rules (pyproject ``[tool.importlinter]``) hold, and the check can fail."""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import bot

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_contracts_are_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_import_contracts_nio_rule_covers_every_top_level_module() -> None:
    """A new top-level module of ``bot`` must be listed (or the rule misses it)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (nio_rule,) = [c for c in contracts if "nio" in c["forbidden_modules"]]
    top_level = {f"bot.{m.name}" for m in pkgutil.iter_modules(bot.__path__)}
    assert set(nio_rule["source_modules"]) == top_level - {"bot.matrix"}


def test_import_contracts_a_forbidden_import_breaks_the_check(tmp_path: Path) -> None:
    """The same check on a copy of the code with ``import nio`` outside bot.matrix."""
    shutil.copytree(ROOT / "bot", tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    clock = tmp_path / "bot" / "clock.py"
    clock.write_text(clock.read_text(encoding="utf-8") + "\nimport nio  # noqa\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "bot.clock is not allowed to import nio" in result.stdout
