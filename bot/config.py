"""The configuration tree: one YAML file, every key overridable by environment.

The tree is :class:`bot.settings.Settings`: the foundation's sections here
(:class:`CoreSettings`) plus each feature's own section model (``bot/features/<name>/
settings.py``); this module imports no feature. Loaded once by
:func:`bot.settings.load_config` (reading the file: :mod:`bot.configfile`) and passed
down; nothing reads configuration globally.
An environment variable ``HELPDESK_<SECTION>__<KEY>`` overrides the file
(pydantic-settings, nested delimiter ``__``), so containers can keep secrets out of files.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.durations import Duration, hours, minutes
from bot.ids import check_user_ids
from bot.limits import LimitsSettings

UserId = Annotated[str, BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v)]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors (typos must not pass)."""

    model_config = ConfigDict(extra="forbid")


class MatrixSettings(Section):
    homeserver: str
    user_id: UserId
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    device_name: str = "helpdesk-bot"
    store_path: Path = Path("data/store")
    allowed_servers: list[str] | None = None
    sync_timeout_ms: int = Field(30_000, ge=0, le=300_000)
    timeline_limit: int = Field(100, ge=10, le=1000)
    request_timeout: float = Field(60.0, gt=0)
    encryption: bool = True
    # Secret storage recovery key (printed once by `helpdesk-bot crypto setup`): restores
    # the cross-signing identity and the key backup on an empty store.
    recovery_key: SecretStr | None = None
    # Encrypts nio's crypto store (its pickle key); nio's default key when unset.
    store_passphrase: SecretStr | None = None
    # How long an undecryptable message waits for its key before the sender is told.
    undecryptable_grace: Duration = timedelta(seconds=30)

    @field_validator("homeserver")
    @classmethod
    def _homeserver_is_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL like https://matrix.example.org")
        return value.rstrip("/")

    @field_validator("user_id")
    @classmethod
    def _user_id_shape(cls, value: str) -> str:
        return check_user_ids([value])[0]

    @model_validator(mode="after")
    def _needs_credentials(self) -> MatrixSettings:
        if self.password is None and self.access_token is None:
            raise ValueError("set matrix.password or matrix.access_token")
        return self

    @property
    def server_name(self) -> str:
        """The bot's own server, the part of its user id after the first colon."""
        return self.user_id.split(":", 1)[1]

    @property
    def invite_servers(self) -> list[str]:
        """Servers whose users may invite the bot (default: the bot's own)."""
        return self.allowed_servers if self.allowed_servers is not None else [self.server_name]


class RoomsSettings(Section):
    helpdesk: str
    triage: str
    # Refuse to run (instead of warning) when the triage room is not invite-only, is
    # world-readable or is not encrypted.
    require_private_triage: bool = False

    @field_validator("helpdesk", "triage")
    @classmethod
    def _room_ref(cls, value: str) -> str:
        value = value.strip()
        if not value or value[0] not in "#!":
            raise ValueError(f"{value!r} is not a room alias (#name:server) or room id (!id)")
        return value


class DatabaseSettings(Section):
    url: str = "sqlite+aiosqlite:///data/helpdesk.db"
    echo: bool = False
    # PostgreSQL session limits, in seconds (0: none); a held lock ends in a retry.
    statement_timeout: float = Field(30.0, ge=0)
    lock_timeout: float = Field(10.0, ge=0)
    idle_in_transaction_session_timeout: float = Field(60.0, ge=0)
    pool_timeout: float = Field(30.0, gt=0)

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db")
        return value


class WebSettings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # The board and handbook (docs/web.md). The address people open, as the reverse
    # proxy serves it; sign-in links are built from it. Unset: http://host:port.
    public_url: str | None = None
    # How long a web session lasts after signing in from a link.
    session_ttl: Duration = hours(8)
    # Who may open the handbook page: helpdesk-room members (via !handbook), anyone, nobody.
    handbook: Literal["members", "public", "off"] = "members"
    # Sign-in links one person may ask for within 10 minutes.
    links_per_10_minutes: int = Field(5, ge=1, le=100)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL like https://helpdesk.example.org")
        return value.rstrip("/")

    @property
    def base_url(self) -> str:
        """Where links point: ``public_url``, else the address the server listens on."""
        return self.public_url or f"http://{self.host}:{self.port}"


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class BotSettings(Section):
    command_prefix: str = Field("!", min_length=1, max_length=3)
    display_name: str = "Security Helpdesk"
    max_message_length: int = Field(8000, ge=100)
    handled_retention_days: int = Field(30, ge=1)
    # Bounded work: a handler taking longer is cancelled and retried; after
    # max_event_attempts the person gets an error reference instead of silence.
    handler_timeout: float = Field(60.0, gt=0)
    max_event_attempts: int = Field(3, ge=1)
    max_concurrent_rooms: int = Field(8, ge=1, le=64)
    shutdown_timeout: float = Field(10.0, ge=0)
    # With no stored sync token, only messages newer than this are answered.
    first_sync_backlog: Duration = timedelta(minutes=10)


class OutboxSettings(Section):
    """Delivery: retries, dead letters and readiness of the outbox (bot/outbox)."""

    max_attempts: int = Field(12, ge=1)
    give_up_after: Duration = hours(6)
    backoff_base: Duration = timedelta(seconds=1)
    backoff_max: Duration = minutes(5)
    concurrency: int = Field(4, ge=1, le=64)
    stall_after: Duration = minutes(3)


class CoreSettings(BaseSettings):
    """The foundation's part of the configuration tree (features add theirs: bot.settings)."""

    model_config = SettingsConfigDict(
        env_prefix="HELPDESK_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    matrix: MatrixSettings
    rooms: RoomsSettings
    security_team: list[UserId] = Field(default_factory=list)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)

    @field_validator("security_team")
    @classmethod
    def _team_ids(cls, value: list[str]) -> list[str]:
        return check_user_ids(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file arrives as init kwargs; the environment must win over it.
        return (env_settings, init_settings)
