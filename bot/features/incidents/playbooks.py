"""Incident types and their first steps, read from ``config/playbooks.yaml`` (not code)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.configfile import ConfigError
from bot.features.incidents.severity import normalise
from bot.ids import is_number
from bot.paths import resolve_data_file
from bot.yamlio import YamlSyntaxError, parse_yaml, problems

Severity = Literal["low", "medium", "high", "critical"]


class _SignalModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    raise_to: Severity
    phrases: list[str] = Field(min_length=1)


class _QuestionModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ask: str = Field(min_length=1)
    yes_raises_to: Severity


class _TypeModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str
    aliases: list[str] = Field(default_factory=list)
    urgent: bool = False
    # The severity assumed until the team rates it (none: "high", if unsure assume worse).
    default_severity: Severity | None = None
    # Phrases in the report that raise the severity ("entered my password").
    signals: list[_SignalModel] = Field(default_factory=list)
    # The one question that matters for this type, asked right after "what happened".
    question: _QuestionModel | None = None
    # Regulatory clocks started when an incident of this type is filed (names in
    # incidents.clocks, e.g. gdpr).
    clocks: list[str] = Field(default_factory=list)
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
    default_severity: str | None = None
    # (severity, phrases) pairs, normalised to lower-case words.
    signals: tuple[tuple[str, tuple[str, ...]], ...] = ()
    question: str | None = None
    question_raises_to: str | None = None
    clocks: tuple[str, ...] = field(default_factory=tuple)


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
        doc = parse_yaml(resolved.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"cannot read {resolved}: {exc.strerror}"], str(resolved)) from None
    except YamlSyntaxError as exc:
        raise ConfigError([f"{resolved} is not valid YAML{exc.where()}"], str(resolved)) from None
    try:
        model = _FileModel.model_validate(doc.data)
    except ValidationError as exc:
        found = problems(exc, doc, exact=False)
        lines = [f"{f'line {p.line}: ' if p.line else ''}{p.key}: {p.message}" for p in found]
        raise ConfigError(lines, str(resolved)) from None
    return Playbooks(
        [
            Playbook(
                t.key,
                t.name,
                tuple(t.aliases),
                t.urgent,
                tuple(t.first_steps),
                default_severity=t.default_severity,
                signals=tuple(
                    (s.raise_to, tuple(normalise(p) for p in s.phrases)) for s in t.signals
                ),
                question=t.question.ask if t.question else None,
                question_raises_to=t.question.yes_raises_to if t.question else None,
                clocks=tuple(t.clocks),
            )
            for t in model.types
        ]
    )


def check_playbooks(settings: Any) -> Playbooks:
    """Load the configured playbooks and check them against the config (``check-config``).

    Raises:
        ConfigError: the file is invalid, or a type names a clock not in incidents.clocks.
    """
    incidents = settings.incidents
    playbooks = load_playbooks(incidents.playbooks_file)
    problems = [
        f"types.{t.key}.clocks: unknown clock {name!r} (configured: "
        f"{', '.join(sorted(incidents.clocks)) or 'none'})"
        for t in playbooks.types
        for name in t.clocks
        if name not in incidents.clocks
    ]
    if problems:
        raise ConfigError(problems, str(resolve_data_file(incidents.playbooks_file)))
    return playbooks
