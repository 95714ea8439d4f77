"""homeserver.yaml for a local Synapse: 127.0.0.1 only, SQLite, no federation."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import yaml

from bot.paths import FILE_MODE, write_private

_BIG = {"per_second": 10000, "burst_count": 100000}
# Every rate limit a test can trip; dotted keys are nested sections.
_RATE_LIMITS = (
    "rc_message", "rc_registration", "rc_registration_token_validity",
    "rc_login.address", "rc_login.account", "rc_login.failed_attempts",
    "rc_joins.local", "rc_joins.remote", "rc_joins_per_room",
    "rc_invites.per_room", "rc_invites.per_user", "rc_invites.per_issuer",
    "rc_third_party_invite", "rc_room_creation", "rc_key_requests", "rc_3pid_validation",
    "rc_media_create", "rc_presence.per_user", "rc_delayed_event_mgmt",
    "rc_user_directory", "rc_profile", "rc_reports", "rc_admin_redaction",
)  # fmt: skip
_LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(request)s %(message)s"


def write_homeserver_config(
    data_dir: Path,
    port: int,
    *,
    shared_secret: str,
    server_name: str = "localhost",
    relaxed_rate_limits: bool = True,
    log_level: str = "WARNING",
) -> Path:
    """Write homeserver.yaml, a log config and a signing key into ``data_dir``.

    The server listens on 127.0.0.1 only, serves the client API only, uses SQLite and
    never talks to other servers. Registration is closed; the shared secret still works.

    Args:
        data_dir: Directory for the config, database, logs and media (created if missing).
        port: Port of the client listener.
        shared_secret: ``registration_shared_secret`` for the admin register API.
        server_name: The Matrix server name (the part after ``:`` in user ids).
        relaxed_rate_limits: Raise every ``rc_*`` limit so tests never hit them; False
            keeps Synapse's defaults.
        log_level: Root level of Synapse's own log (``homeserver.log``).

    Returns:
        The path of homeserver.yaml.
    """
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = data_dir / "homeserver.yaml"
    old = yaml.safe_load(config_path.read_text()) if config_path.exists() else {}
    cfg = _homeserver_settings(data_dir, port, server_name, shared_secret, old)
    if relaxed_rate_limits:
        _relax_rate_limits(cfg)
    write_private(config_path, yaml.safe_dump(cfg, sort_keys=False))  # holds secrets
    _write_log_config(data_dir, log_level)
    _ensure_signing_key(Path(cfg["signing_key_path"]))
    return config_path


def _homeserver_settings(
    data_dir: Path, port: int, server_name: str, shared_secret: str, old: dict[str, Any]
) -> dict[str, Any]:
    """homeserver.yaml: client API on 127.0.0.1, SQLite, no federation, closed sign-up."""
    cfg: dict[str, Any] = {
        "server_name": server_name,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(data_dir / "homeserver.pid"),
        "listeners": [{
            "port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
            "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}],
        }],
        "database": {"name": "sqlite3", "args": {"database": str(data_dir / "homeserver.db")}},
        "log_config": str(data_dir / "log.config"),
        "media_store_path": str(data_dir / "media_store"),
        "signing_key_path": str(data_dir / f"{server_name}.signing.key"),
        "registration_shared_secret": shared_secret,
        # Kept across rewrites so a restart with a fresh config keeps issued secrets valid.
        "macaroon_secret_key": old.get("macaroon_secret_key") or secrets.token_urlsafe(32),
        "form_secret": old.get("form_secret") or secrets.token_urlsafe(32),
        "report_stats": False,  # Synapse refuses to start without this key.
        "bcrypt_rounds": 4,  # logins in 0.02 s instead of 0.26 s
        "enable_registration": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "enable_metrics": False,
    }  # fmt: skip
    return cfg


def _relax_rate_limits(cfg: dict[str, Any]) -> None:
    """Raise every ``rc_*`` limit so tests never hit them."""
    for key in _RATE_LIMITS:
        section, _, sub = key.partition(".")
        if sub:
            cfg.setdefault(section, {})[sub] = dict(_BIG)
        else:
            cfg[section] = dict(_BIG)


def _write_log_config(data_dir: Path, log_level: str) -> None:
    """Synapse's own log goes to ``homeserver.log`` in ``data_dir``."""
    log_cfg = {
        "version": 1,
        "formatters": {"precise": {"format": _LOG_FORMAT}},
        "handlers": {"file": {"class": "logging.FileHandler", "formatter": "precise",
                              "filename": str(data_dir / "homeserver.log"), "encoding": "utf8"}},
        "root": {"level": log_level, "handlers": ["file"]},
        "disable_existing_loggers": False,
    }  # fmt: skip
    (data_dir / "log.config").write_text(yaml.safe_dump(log_cfg))


def _ensure_signing_key(key_path: Path) -> None:
    """The server's signing key, made once (readable by this user only)."""
    from signedjson.key import generate_signing_key, write_signing_keys

    if not key_path.exists():
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "w") as f:
            write_signing_keys(f, [generate_signing_key("a_devserver")])
