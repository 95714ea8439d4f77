"""load_config: the YAML file, environment overrides, and errors that name the key."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.configfile import ConfigError
from bot.settings import Settings, load_config

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "config.example.yaml"


def minimal() -> dict[str, Any]:
    return {
        "matrix": {
            "homeserver": "https://matrix.example.org",
            "user_id": "@helpdesk:example.org",
            "password": "file-password",
        },
        "rooms": {"helpdesk": "#helpdesk:example.org", "triage": "#triage:example.org"},
    }


def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def problems_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_config_example_file_validates() -> None:
    settings = load_config(EXAMPLE)
    assert isinstance(settings, Settings)
    assert settings.matrix.homeserver == "https://matrix.example.org"
    assert settings.rooms.helpdesk == "#security-helpdesk:example.org"
    assert settings.tickets.nudge_after == timedelta(hours=4)


def test_config_env_config_path_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, minimal())
    monkeypatch.setenv("HELPDESK_CONFIG", str(path))
    assert load_config(None).matrix.user_id == "@helpdesk:example.org"


def test_config_env_overrides_win_over_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = minimal()
    data["database"] = {"url": "sqlite+aiosqlite:///from-file.db"}
    data["security_team"] = ["@file:example.org"]
    path = write(tmp_path, data)
    monkeypatch.setenv("HELPDESK_MATRIX__PASSWORD", "env-password")
    monkeypatch.setenv("HELPDESK_DATABASE__URL", "postgresql+asyncpg://u@db/helpdesk")
    monkeypatch.setenv("HELPDESK_SECURITY_TEAM", '["@a:x"]')

    settings = load_config(path)

    assert settings.matrix.password is not None
    assert settings.matrix.password.get_secret_value() == "env-password"
    assert settings.database.url == "postgresql+asyncpg://u@db/helpdesk"
    assert settings.security_team == ["@a:x"]
    # Keys the environment does not set still come from the file.
    assert settings.matrix.homeserver == "https://matrix.example.org"


def test_config_missing_required_key_is_named(tmp_path: Path) -> None:
    data = minimal()
    del data["matrix"]["homeserver"]
    text = problems_of(write(tmp_path, data))
    assert "matrix.homeserver" in text
    assert "required key is missing" in text


def test_config_wrong_type_is_named(tmp_path: Path) -> None:
    data = minimal()
    data["web"] = {"port": "abc"}
    text = problems_of(write(tmp_path, data))
    assert "web.port" in text


def test_config_unknown_key_is_named(tmp_path: Path) -> None:
    data = minimal()
    data["matrix"]["pasword"] = "typo"
    text = problems_of(write(tmp_path, data))
    assert "matrix.pasword" in text
    assert "unknown key" in text


def test_config_unknown_section_is_named(tmp_path: Path) -> None:
    data = minimal()
    data["tikets"] = {}
    assert "tikets" in problems_of(write(tmp_path, data))


def test_config_broken_yaml_reports_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'matrix:\n  homeserver: "https://x.org"\n  user_id: [unclosed\nrooms:\n  helpdesk: x\n',
    )
    text = problems_of(path)
    assert "not valid YAML" in text
    assert "line " in text
    # The problem is reported at a concrete line of this five-line file.
    line = int(text.split("line ", 1)[1].split(",", 1)[0])
    assert 3 <= line <= 5


def test_config_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    assert "mapping" in problems_of(write(tmp_path, "- just\n- a list\n"))


def test_config_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, minimal())
    path.chmod(0)
    try:
        readable = os.access(path, os.R_OK)  # root reads anything
        if readable:
            # A directory exists but cannot be read as a file: the same code path.
            path = tmp_path / "config-dir.yaml"
            path.mkdir()
        text = problems_of(path)
    finally:
        (tmp_path / "config.yaml").chmod(0o600)
    assert str(path) in text
    assert "cannot be read" in text


def test_config_nonexistent_explicit_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    text = problems_of(path)
    assert "does not exist" in text
    assert str(path) in text


def test_config_nonexistent_default_file_falls_back_to_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --config or $HELPDESK_CONFIG a missing default file means env-only config."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HELPDESK_MATRIX__HOMESERVER", "https://m.example.org")
    monkeypatch.setenv("HELPDESK_MATRIX__USER_ID", "@bot:example.org")
    monkeypatch.setenv("HELPDESK_MATRIX__ACCESS_TOKEN", "syt_token")
    monkeypatch.setenv("HELPDESK_ROOMS__HELPDESK", "#h:example.org")
    monkeypatch.setenv("HELPDESK_ROOMS__TRIAGE", "#t:example.org")
    assert load_config(None).matrix.user_id == "@bot:example.org"


def test_config_password_or_access_token_required(tmp_path: Path) -> None:
    data = minimal()
    del data["matrix"]["password"]
    text = problems_of(write(tmp_path, data))
    assert "matrix" in text
    assert "password" in text and "access_token" in text

    data["matrix"]["access_token"] = "syt_abc"
    settings = load_config(write(tmp_path, data, "with-token.yaml"))
    assert settings.matrix.access_token is not None
    assert settings.matrix.password is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("4h", timedelta(hours=4)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (90, timedelta(seconds=90)),
        ("2d", timedelta(days=2)),
        ("45s", timedelta(seconds=45)),
    ],
)
def test_config_durations_parse(tmp_path: Path, value: object, expected: timedelta) -> None:
    data = minimal()
    data["tickets"] = {"nudge_after": value}
    assert load_config(write(tmp_path, data)).tickets.nudge_after == expected


def test_config_bad_duration_names_key(tmp_path: Path) -> None:
    data = minimal()
    data["tickets"] = {"nudge_after": "bogus"}
    assert "tickets.nudge_after" in problems_of(write(tmp_path, data))


def test_config_secrets_are_hidden_in_repr(tmp_path: Path) -> None:
    data = minimal()
    data["matrix"]["password"] = "hunter2-secret"
    data["matrix"]["access_token"] = "syt_very_secret_token"
    settings = load_config(write(tmp_path, data))
    shown = repr(settings) + str(settings) + repr(settings.matrix)
    assert "hunter2-secret" not in shown
    assert "syt_very_secret_token" not in shown
    assert settings.matrix.password is not None
    assert settings.matrix.password.get_secret_value() == "hunter2-secret"


def test_config_allowed_servers_default_to_bot_server(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, minimal()))
    assert settings.matrix.allowed_servers is None
    assert settings.matrix.invite_servers == ["example.org"]

    data = minimal()
    data["matrix"]["allowed_servers"] = ["example.org", "partner.org"]
    settings = load_config(write(tmp_path, data, "allowed.yaml"))
    assert settings.matrix.invite_servers == ["example.org", "partner.org"]


def test_config_bad_user_id_is_named(tmp_path: Path) -> None:
    data = minimal()
    data["security_team"] = ["not-a-user"]
    text = problems_of(write(tmp_path, data))
    assert "security_team" in text
    assert "not-a-user" in text
