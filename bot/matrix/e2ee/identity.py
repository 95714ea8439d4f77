"""The bot's cross-signing identity: created once, reused forever, never reset by accident.

Element (MSC4153, "exclude insecure devices") sends room keys only to devices their owner
cross-signed and hides messages from other devices, so the bot publishes a master key,
a self-signing key and a user-signing key, and signs its own device with the
self-signing key. A store that lost the private keys never makes a second identity: the
keys come back from secret storage with the recovery key, or the bot says what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.matrix.e2ee.api import ApiError, MatrixApi
from bot.matrix.e2ee.keystore import CrossSigningKeys, KeyFile
from bot.matrix.e2ee.signing import only_key, sign_object, verify_object

log = logging.getLogger(__name__)

LOST_KEYS = (
    "this account already has a cross-signing identity (master key {master}) but its private"
    " keys are not in the store (the store was lost or is new). The bot will not create a"
    " second identity: that would make every user's client warn about it. Set"
    " matrix.recovery_key (env HELPDESK_MATRIX__RECOVERY_KEY) to the recovery key printed by"
    " `helpdesk-bot crypto setup` and restart; until then Element users in the enforced mode"
    " cannot read the bot, and it reports itself as degraded."
)

Recover = Callable[[str], Awaitable[CrossSigningKeys | None]]


class IdentityError(Exception):
    """The identity could not be published (worded for the operator)."""


@dataclass
class IdentityState:
    """What the bot knows about its own identity after :func:`ensure_identity`."""

    master_key: str | None = None
    device_signed: bool = False
    problem: str | None = None
    keys: CrossSigningKeys | None = None


def key_object(user_id: str, usage: str, public: str) -> dict[str, Any]:
    """A cross-signing key as ``/keys/device_signing/upload`` takes it (unsigned)."""
    return {"user_id": user_id, "usage": [usage], "keys": {f"ed25519:{public}": public}}


def device_cross_signed(keys: dict[str, Any], user_id: str, device_id: str) -> bool:
    """Whether ``/keys/query`` shows ``device_id`` signed by its owner's identity.

    The chain is checked: the device carries a valid signature by the self-signing key,
    which carries a valid signature by the master key.
    """
    master_obj = (keys.get("master_keys") or {}).get(user_id)
    ssk_obj = (keys.get("self_signing_keys") or {}).get(user_id)
    device = ((keys.get("device_keys") or {}).get(user_id) or {}).get(device_id)
    master, ssk = only_key(master_obj), only_key(ssk_obj)
    if not (master and ssk and isinstance(device, dict)):
        return False
    return verify_object(ssk_obj, user_id, f"ed25519:{master}", master) and verify_object(
        device, user_id, f"ed25519:{ssk}", ssk
    )


async def upload_identity(
    api: MatrixApi, user_id: str, keys: CrossSigningKeys, password: str | None
) -> None:
    """Publish the three public keys, with user-interactive auth when the server asks.

    Raises:
        IdentityError: the server wants a password and none is configured, or refused.
    """
    body: dict[str, Any] = {
        "master_key": key_object(user_id, "master", keys.master.public),
        "self_signing_key": sign_object(
            key_object(user_id, "self_signing", keys.self_signing.public), user_id, keys.master
        ),
        "user_signing_key": sign_object(
            key_object(user_id, "user_signing", keys.user_signing.public), user_id, keys.master
        ),
    }
    try:
        await api.request("POST", "/keys/device_signing/upload", body)
        return
    except ApiError as exc:
        if exc.status != 401 or "flows" not in exc.body:
            raise IdentityError(f"the homeserver refused the cross-signing keys: {exc}") from None
        session = exc.body.get("session")
    if password is None:
        raise IdentityError(
            "the homeserver asks for the bot's password to publish its cross-signing keys;"
            " set matrix.password"
        )
    body["auth"] = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user_id},
        "password": password,
        **({"session": session} if session else {}),
    }
    try:
        await api.request("POST", "/keys/device_signing/upload", body)
    except ApiError as exc:
        raise IdentityError(f"the homeserver refused the cross-signing keys: {exc}") from None


async def sign_device(
    api: MatrixApi, user_id: str, device_keys: dict[str, Any], keys: CrossSigningKeys
) -> None:
    """Sign the device's published keys with the self-signing key and upload the signature."""
    signed = sign_object(device_keys, user_id, keys.self_signing)
    answer = await api.request(
        "POST", "/keys/signatures/upload", {user_id: {device_keys["device_id"]: signed}}
    )
    failures = answer.get("failures") or {}
    if failures:
        raise IdentityError(f"the homeserver refused the device signature: {failures}")


async def ensure_identity(
    api: MatrixApi,
    *,
    user_id: str,
    device_id: str,
    key_file: KeyFile,
    password: str | None,
    recover: Recover,
) -> IdentityState:
    """Make sure the identity exists and this device is signed by it.

    Args:
        api: requests with the bot's token.
        user_id: the bot.
        device_id: the bot's current device (its keys already uploaded).
        key_file: where the private keys are kept.
        password: for user-interactive auth, if configured.
        recover: fetches the private keys from secret storage (None when impossible).

    Returns:
        The state; ``problem`` says in words what is wrong when the device is not signed.
    """
    answer = await api.query_keys([user_id])
    server_master = only_key((answer.get("master_keys") or {}).get(user_id))
    local = key_file.load()
    if server_master is None:
        if local is None:
            local = CrossSigningKeys.generate()
            key_file.save(local)  # before publishing: a crash must not lose them
            log.info("creating the bot's cross-signing identity")
        await upload_identity(api, user_id, local, password)
        log.info("published cross-signing identity, master key %s", local.master.public)
        answer = await api.query_keys([user_id])
    elif local is None or local.master.public != server_master:
        recovered = await recover(server_master)
        if recovered is None or recovered.master.public != server_master:
            problem = LOST_KEYS.format(master=server_master)
            log.error("cross-signing: %s", problem)
            return IdentityState(
                master_key=server_master,
                device_signed=device_cross_signed(answer, user_id, device_id),
                problem=problem,
            )
        local = recovered
        key_file.save(local)
        log.info("restored the cross-signing identity from secret storage")
    if not device_cross_signed(answer, user_id, device_id):
        problem = await _sign_this_device(api, answer, user_id, device_id, local)
        if problem is not None:
            return IdentityState(master_key=local.master.public, problem=problem, keys=local)
    return IdentityState(master_key=local.master.public, device_signed=True, keys=local)


async def _sign_this_device(
    api: MatrixApi, answer: dict, user_id: str, device_id: str, keys: CrossSigningKeys
) -> str | None:
    """Sign the bot's device with its self-signing key; what is wrong, or None."""
    device = ((answer.get("device_keys") or {}).get(user_id) or {}).get(device_id)
    if not isinstance(device, dict):
        return "the bot's device keys are not published yet"
    await sign_device(api, user_id, device, keys)
    log.info("signed device %s with the cross-signing identity", device_id)
    if not device_cross_signed(await api.query_keys([user_id]), user_id, device_id):
        return (
            "the device signature does not verify against the published"
            " self-signing key (was the identity changed by another client?)"
        )
    return None
