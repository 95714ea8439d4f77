"""``helpdesk-bot crypto setup|status``."""

from __future__ import annotations

import argparse
import logging
import sys
from urllib.parse import quote

from nio import AsyncClient, AsyncClientConfig

from bot.matrix.e2ee import E2EE, STORE_KEY_ERRORS, STORE_KEY_PROBLEM, store_key
from bot.matrix.e2ee.api import ApiError
from bot.matrix.e2ee.identity import IdentityError
from bot.matrix.e2ee.recovery import fingerprint
from bot.matrix.e2ee.report import load_counts
from bot.matrix.e2ee.ssss import SecretStorageError
from bot.matrix.session import LoginFailed, log_in
from bot.settings import Settings, load_config

EXIT_FAILED = 1


def add_cli(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add ``crypto setup`` and ``crypto status``."""
    crypto = sub.add_parser("crypto", parents=[common], help="the bot's encryption identity")
    actions = crypto.add_subparsers(dest="crypto_command", metavar="ACTION")
    actions.required = True
    actions.add_parser(
        "setup",
        parents=[common],
        help="create the cross-signing identity and secret storage; print the recovery key once",
    )
    actions.add_parser(
        "status", parents=[common], help="device, cross-signing, secret storage, backup, counts"
    )
    crypto.set_defaults(func=cmd_crypto)


async def _client(settings: Settings) -> AsyncClient:
    settings.matrix.store_path.mkdir(parents=True, exist_ok=True)
    client = AsyncClient(
        settings.matrix.homeserver,
        settings.matrix.user_id,
        store_path=str(settings.matrix.store_path),
        config=AsyncClientConfig(
            store_sync_tokens=False, encryption_enabled=True, pickle_key=store_key(settings)
        ),
    )
    await log_in(client, settings.matrix)
    return client


async def cmd_crypto(args: argparse.Namespace) -> int:
    """Run ``crypto setup`` or ``crypto status``."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    settings = load_config(args.config)
    if not settings.matrix.encryption:
        print("matrix.encryption is false: the bot does not encrypt.", file=sys.stderr)
        return EXIT_FAILED
    try:
        client = await _client(settings)
    except LoginFailed as exc:
        print(f"cannot log in: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except STORE_KEY_ERRORS:
        print(f"cannot open the store: {STORE_KEY_PROBLEM}", file=sys.stderr)
        return EXIT_FAILED
    e2ee = E2EE(settings, client)
    try:
        if args.crypto_command == "setup":
            return await _setup(e2ee)
        return await _status(e2ee, settings)
    except (ApiError, SecretStorageError, OSError) as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await e2ee.close()
        await client.close()


async def _setup(e2ee: E2EE) -> int:
    try:
        recovery_key = await e2ee.setup()
    except IdentityError as exc:
        print(f"cannot set up the identity: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Cross-signing identity ready; master key: {fingerprint(e2ee.identity.master_key)}")
    print(f"Device {e2ee.client.device_id} is signed by it.")
    if recovery_key is None:
        print("Secret storage opens with matrix.recovery_key; the keys are stored in it.")
        return 0
    print()
    print("Recovery key (shown only this once; keep it in your secrets manager):")
    print()
    print(f"    {recovery_key}")
    print()
    print(
        "Give it to the bot as matrix.recovery_key (env HELPDESK_MATRIX__RECOVERY_KEY): with"
        " it, a bot whose store is lost restores this identity instead of making a new one."
    )
    return 0


async def _triage_members(e2ee: E2EE, settings: Settings) -> set[str]:
    """The triage room's joined members, read from the homeserver (empty if unknown)."""
    ref = settings.rooms.triage
    try:
        if ref.startswith("#"):
            ref = (await e2ee.api.request("GET", f"/directory/room/{quote(ref, safe='')}"))[
                "room_id"
            ]
        joined = await e2ee.api.request("GET", f"/rooms/{quote(ref, safe='')}/joined_members")
    except (ApiError, KeyError) as exc:
        print(f"note: cannot list the triage room's members ({exc})", file=sys.stderr)
        return set()
    return set(joined.get("joined") or {})


async def _status(e2ee: E2EE, settings: Settings) -> int:
    report = await e2ee.report(await _triage_members(e2ee, settings))
    report.undecryptable = load_counts(settings.matrix.store_path)
    print(report.render())
    return 0 if report.cross_signed else EXIT_FAILED
