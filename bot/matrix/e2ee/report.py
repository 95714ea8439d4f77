"""The self-check behind ``!crypto`` and ``helpdesk-bot crypto status``."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.matrix.e2ee.api import MatrixApi
from bot.matrix.e2ee.identity import device_cross_signed
from bot.matrix.e2ee.recovery import fingerprint
from bot.matrix.e2ee.signing import only_key
from bot.matrix.e2ee.ssss import DEFAULT_KEY, SecretStorage, SecretStorageError

log = logging.getLogger(__name__)

COUNTS_FILE = "undecryptable.json"
DAY = 24 * 3600.0


@dataclass
class Report:
    """What the bot's encryption looks like from the homeserver's point of view."""

    device_id: str
    cross_signed: bool
    master_key: str | None
    secret_storage: str
    backup: str
    undecryptable: dict[str, int] = field(default_factory=dict)
    unsigned_members: dict[str, list[str]] = field(default_factory=dict)
    problem: str | None = None

    def render(self) -> str:
        """Plain text, one fact a line."""
        lines = [
            f"Device: {self.device_id}",
            f"Cross-signed by the bot's identity: {'yes' if self.cross_signed else 'NO'}",
            f"Master key (compare it when verifying the bot): {fingerprint(self.master_key)}",
            f"Secret storage: {self.secret_storage}",
            f"Key backup: {self.backup}",
        ]
        if self.problem:
            lines.append(f"Problem: {self.problem}")
        counts = ", ".join(f"{r}: {n}" for r, n in sorted(self.undecryptable.items()))
        lines.append(f"Undecryptable messages, last 24 h: {counts or 'none'}")
        if self.unsigned_members:
            lines.append("Triage members with devices their owner has not cross-signed:")
            lines += [
                f"  {user}: {', '.join(devices) or 'no cross-signing identity'}"
                for user, devices in sorted(self.unsigned_members.items())
            ]
        else:
            lines.append("Triage members with devices not cross-signed: none")
        return "\n".join(lines)


async def secret_storage_state(api: MatrixApi, user_id: str, recovery_key: str | None) -> str:
    """``ready``, ``not set up`` or what is wrong, in words."""
    if not (await api.get_account_data(user_id, DEFAULT_KEY) or {}).get("key"):
        return "not set up (run `helpdesk-bot crypto setup`)"
    if not recovery_key:
        return "set up, but matrix.recovery_key is not configured"
    try:
        await SecretStorage.open(api, user_id, recovery_key)
    except SecretStorageError as exc:
        return str(exc)
    return "ready (opens with matrix.recovery_key)"


async def inspect(
    api: MatrixApi,
    *,
    user_id: str,
    device_id: str,
    recovery_key: str | None,
    triage_members: set[str],
    backup: str,
) -> Report:
    """Read the bot's keys and the triage members' keys from ``/keys/query``."""
    members = sorted(triage_members - {user_id})
    keys = await api.query_keys([user_id, *members])
    unsigned: dict[str, list[str]] = {}
    for member in members:
        devices = (keys.get("device_keys") or {}).get(member) or {}
        if not only_key((keys.get("master_keys") or {}).get(member)):
            unsigned[member] = []
            continue
        bad = sorted(d for d in devices if not device_cross_signed(keys, member, d))
        if bad:
            unsigned[member] = bad
    return Report(
        device_id=device_id,
        cross_signed=device_cross_signed(keys, user_id, device_id),
        master_key=only_key((keys.get("master_keys") or {}).get(user_id)),
        secret_storage=await secret_storage_state(api, user_id, recovery_key),
        backup=backup,
        unsigned_members=unsigned,
    )


def save_counts(store_path: Path, events: list[tuple[float, str]]) -> None:
    """Keep the last day's given-up events (time, reason) for ``crypto status``."""
    cutoff = time.time() - DAY
    path = Path(store_path) / COUNTS_FILE
    try:
        path.write_text(json.dumps([e for e in events if e[0] >= cutoff]), encoding="utf-8")
    except OSError as exc:
        log.warning("cannot write %s: %s", path, exc)


def load_counts(store_path: Path) -> dict[str, int]:
    """Given-up events of the last 24 hours by reason, as the running bot saved them."""
    try:
        events = json.loads((Path(store_path) / COUNTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    cutoff = time.time() - DAY
    counts: dict[str, int] = {}
    for when, reason in events if isinstance(events, list) else []:
        if isinstance(when, int | float) and when >= cutoff:
            counts[str(reason)] = counts.get(str(reason), 0) + 1
    return counts
