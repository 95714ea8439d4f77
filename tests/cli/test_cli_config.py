"""The ``helpdesk-bot`` command line, run as a real subprocess (``python -m bot``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import EXIT_CONFIG
from bot.storage.migrate import head_revision

REPO = Path(__file__).resolve().parents[2]
# A safety net so a hung child cannot hang the suite; not an assertion about speed.
CHILD_TIMEOUT = 120


def config_data(db_url: str = "sqlite+aiosqlite:///unused.db") -> dict[str, Any]:
    return {
        # Port 1 on loopback: nothing listens there, so a network attempt would fail fast.
        "matrix": {
            "homeserver": "http://127.0.0.1:1",
            "user_id": "@helpdesk:example.org",
            "password": "secret-password",
        },
        "rooms": {"helpdesk": "#helpdesk:example.org", "triage": "#triage:example.org"},
        "database": {"url": db_url},
        "web": {"enabled": False},
    }


def write(tmp_path: Path, data: dict[str, Any], name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def run_cli(
    *args: str, cwd: Path, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HELPDESK_")}
    # Import `bot` from this checkout whatever the current directory is.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
    )


def test_cli_check_config_good_file_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, config_data())
    result = run_cli("check-config", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout
    assert "@helpdesk:example.org" in result.stdout
    assert "secret-password" not in result.stdout + result.stderr


def test_cli_check_config_reads_helpdesk_config_env(tmp_path: Path) -> None:
    path = write(tmp_path, config_data())
    result = run_cli("check-config", cwd=tmp_path, env_extra={"HELPDESK_CONFIG": str(path)})
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout


def test_cli_check_config_option_before_subcommand(tmp_path: Path) -> None:
    path = write(tmp_path, config_data())
    result = run_cli("--config", str(path), "check-config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_cli_check_config_missing_key_exits_2(tmp_path: Path) -> None:
    data = config_data()
    del data["matrix"]["homeserver"]
    result = run_cli("check-config", "--config", str(write(tmp_path, data)), cwd=tmp_path)
    assert result.returncode == EXIT_CONFIG == 2
    assert "matrix.homeserver" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_check_config_wrong_type_exits_2(tmp_path: Path) -> None:
    data = config_data()
    data["web"]["port"] = "abc"
    result = run_cli("check-config", "--config", str(write(tmp_path, data)), cwd=tmp_path)
    assert result.returncode == 2
    assert "web.port" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_check_config_env_wrong_type_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, config_data())
    result = run_cli(
        "check-config",
        cwd=tmp_path,
        env_extra={"HELPDESK_CONFIG": str(path), "HELPDESK_WEB__PORT": "abc"},
    )
    assert result.returncode == 2
    assert "web.port" in result.stderr


def test_cli_check_config_nonexistent_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = run_cli("check-config", "--config", str(missing), cwd=tmp_path)
    assert result.returncode == 2
    assert str(missing) in result.stderr
    assert "does not exist" in result.stderr


def test_cli_check_config_unreadable_file_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, config_data())
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # running as root: use a directory instead
            path = tmp_path / "a-directory.yaml"
            path.mkdir()
        result = run_cli("check-config", "--config", str(path), cwd=tmp_path)
    finally:
        (tmp_path / "config.yaml").chmod(0o600)
    assert result.returncode == 2
    assert str(path) in result.stderr
    assert "cannot be read" in result.stderr


def test_cli_run_bad_config_exits_2_before_network(tmp_path: Path) -> None:
    data = config_data()
    data["web"]["port"] = "abc"
    result = run_cli("run", "--config", str(write(tmp_path, data)), cwd=tmp_path)
    assert result.returncode == 2
    assert "web.port" in result.stderr
    # Nothing was started: no database file was created next to the config.
    assert not (tmp_path / "unused.db").exists()


def test_cli_db_upgrade_then_current_prints_head(tmp_path: Path) -> None:
    db_file = tmp_path / "data" / "helpdesk.db"
    path = write(tmp_path, config_data(f"sqlite+aiosqlite:///{db_file}"))

    before = run_cli("db", "current", "--config", str(path), cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    assert "empty" in before.stdout

    up = run_cli("db", "upgrade", "--config", str(path), cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert "upgraded to head" in up.stdout
    assert db_file.exists()

    current = run_cli("db", "current", "--config", str(path), cwd=tmp_path)
    assert current.returncode == 0, current.stderr
    head = head_revision()
    assert head
    assert current.stdout.strip() == head


@pytest.mark.parametrize("argv", [[], ["db"]])
def test_cli_missing_subcommand_is_a_usage_error(tmp_path: Path, argv: list[str]) -> None:
    result = run_cli(*argv, cwd=tmp_path)
    assert result.returncode == 2  # argparse's usage error
    assert "usage:" in result.stderr
