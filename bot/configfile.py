"""Reading the configuration file: where it is, its YAML, and problems worded for operators.

From ``--config PATH``, else ``$HELPDESK_CONFIG``, else ``config/config.yaml``; with no
file at the default place the environment alone configures the bot (containers). Every
problem names its key and, when the key is in the file, its line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from bot.yamlio import Problem, YamlDocument, YamlSyntaxError, parse_yaml, problems

DEFAULT_CONFIG_PATH = Path("config/config.yaml")
ENV_CONFIG_PATH = "HELPDESK_CONFIG"
S = TypeVar("S", bound=BaseSettings)
UNKNOWN_KEY = "unknown key (check the spelling against config/config.example.yaml)"


class ConfigError(Exception):
    """A configuration problem, already worded for the operator (key and problem)."""

    def __init__(self, problems: list[str], source: str):
        self.problems = problems
        self.source = source
        super().__init__("; ".join(problems))

    def __str__(self) -> str:
        lines = [f"configuration error in {self.source}:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def resolve_config_path(explicit: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """Where the config file is, and whether the operator named it explicitly."""
    if explicit:
        return Path(explicit), True
    env = os.environ.get(ENV_CONFIG_PATH)
    if env:
        return Path(env), True
    return DEFAULT_CONFIG_PATH, False


def _read_yaml(path: Path, explicit: bool) -> YamlDocument | None:
    if not path.exists():
        if explicit:
            raise ConfigError([f"config file {path} does not exist"], str(path))
        return None  # environment-only configuration (containers)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [f"config file {path} cannot be read: {exc.strerror}"], str(path)
        ) from None
    except UnicodeDecodeError:
        raise ConfigError([f"config file {path} is not UTF-8 text"], str(path)) from None
    try:
        doc = parse_yaml(text)
    except YamlSyntaxError as exc:
        raise ConfigError(
            [f"config file {path} is not valid YAML{exc.where()}: {exc.problem}"], str(path)
        ) from None
    if doc.data is not None and not isinstance(doc.data, dict):
        raise ConfigError([f"config file {path} must be a mapping of sections"], str(path))
    return doc


def _describe(problem: Problem) -> str:
    where = f" (line {problem.line})" if problem.line else ""
    return f"{problem.key}{where}: {problem.message}" if problem.key else problem.message


def load_settings(model: type[S], path: str | os.PathLike[str] | None) -> S:
    """Load and validate the configuration into ``model``.

    Args:
        model: the settings tree (``bot.settings.Settings``: the foundation and every feature).
        path: the file named by ``--config``; ``None`` falls back to ``$HELPDESK_CONFIG``
            and then ``config/config.yaml``.

    Raises:
        ConfigError: naming each offending key (with its line when it is in the file).
    """
    resolved, explicit = resolve_config_path(path)
    doc = _read_yaml(resolved, explicit)
    try:
        return model(**(doc.data if doc is not None and doc.data else {}))
    except ValidationError as exc:
        found = problems(exc, doc, unknown=UNKNOWN_KEY)
        raise ConfigError([_describe(p) for p in found], str(resolved)) from None
