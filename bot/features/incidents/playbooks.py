"""Incident types and their first steps, read from ``config/playbooks.yaml`` (not code)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.config import ConfigError
from bot.ids import is_number
from bot.paths import resolve_data_file

# The project root, where the shipped config/playbooks.yaml lives.


class _TypeModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str
    aliases: list[str] = Field(default_factory=list)
    urgent: bool = False
    first_steps: list[str] = Field(min_length=1)


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    types: list[_TypeModel] = Field(min_length=1)

    @field_validator("types")
    @classmethod
    def _unique(cls, types: list[_TypeModel]) -> list[_TypeModel]:
        keys = [t.key for t in types]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"duplicate type keys: {', '.join(dupes)}")
        return types


@dataclass(frozen=True)
class Playbook:
    """One incident type."""

    key: str
    name: str
    aliases: tuple[str, ...]
    urgent: bool
    first_steps: tuple[str, ...]


class Playbooks:
    """The incident types, in the file's order."""

    def __init__(self, types: list[Playbook]):
        self.types = types
        self.by_key = {t.key: t for t in types}

    def get(self, key: str) -> Playbook | None:
        return self.by_key.get(key)

    def match(self, answer: str) -> Playbook | None:
        """The type named by ``answer``: its number, key, name, or an alias in it."""
        text = answer.strip().lower()
        if is_number(text):
            n = int(text)
            return self.types[n - 1] if 1 <= n <= len(self.types) else None
        for t in self.types:
            if text in (t.key, t.name.lower()):
                return t
        best: tuple[int, Playbook] | None = None
        words = f" {re.sub(r'[^a-z0-9]+', ' ', text)} "
        for t in self.types:
            for alias in t.aliases:
                if f" {alias.lower()} " in words and (best is None or len(alias) > best[0]):
                    best = (len(alias), t)
        return best[1] if best else None

    def menu(self) -> list[str]:
        """Numbered lines for the type question."""
        return [f"{i}. {t.name} ({t.key})" for i, t in enumerate(self.types, start=1)]


def load_playbooks(path: Path) -> Playbooks:
    """Read and validate the playbooks file.

    Raises:
        ConfigError: the file is missing or invalid (each problem named).
    """
    resolved = resolve_data_file(path)
    try:
        data = yaml.safe_load(resolved.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"cannot read {resolved}: {exc.strerror}"], str(resolved)) from None
    except yaml.YAMLError:
        raise ConfigError([f"{resolved} is not valid YAML"], str(resolved)) from None
    try:
        model = _FileModel.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors]
        raise ConfigError(problems, str(resolved)) from None
    return Playbooks(
        [
            Playbook(t.key, t.name, tuple(t.aliases), t.urgent, tuple(t.first_steps))
            for t in model.types
        ]
    )
