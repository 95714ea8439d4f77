"""Unit checks of the crypto primitives and the degraded readiness report."""

from __future__ import annotations

import json
import os

import pytest
from aiohttp.test_utils import TestClient, TestServer
from signedjson.key import decode_verify_key_base64
from signedjson.sign import verify_signed_json

from bot.matrix.e2ee.signing import SigningKey, sign_object, verify_object
from bot.matrix.e2ee.ssss import (
    SecretStorageError,
    decode_recovery_key,
    decrypt,
    encode_recovery_key,
    encrypt,
    key_check,
    key_matches,
)
from bot.metrics import Metrics
from bot.web.server import Probes, make_app


def test_e2ee_signature_verifies_with_signedjson() -> None:
    key = SigningKey.generate()
    signed = sign_object({"user_id": "@a:b", "keys": {"x": "y"}, "unsigned": {"n": 1}}, "@a:b", key)
    verify_signed_json(signed, "@a:b", decode_verify_key_base64("ed25519", key.public, key.public))
    assert verify_object(signed, "@a:b", f"ed25519:{key.public}", key.public)
    tampered = {**signed, "keys": {"x": "z"}}
    assert not verify_object(tampered, "@a:b", f"ed25519:{key.public}", key.public)


def test_e2ee_recovery_key_round_trip_and_typo() -> None:
    raw = os.urandom(32)
    text = encode_recovery_key(raw)
    assert text.startswith("Es") and all(len(g) <= 4 for g in text.split())
    assert decode_recovery_key(text) == raw
    assert decode_recovery_key(text.replace(" ", "")) == raw
    broken = text[:-1] + ("a" if text[-1] != "a" else "b")
    with pytest.raises(SecretStorageError):
        decode_recovery_key(broken)


def test_e2ee_secret_round_trip_and_wrong_key() -> None:
    key, other = os.urandom(32), os.urandom(32)
    payload = encrypt(key, "m.cross_signing.master", "c2VjcmV0")
    assert decrypt(key, "m.cross_signing.master", payload) == "c2VjcmV0"
    with pytest.raises(SecretStorageError):
        decrypt(other, "m.cross_signing.master", payload)
    with pytest.raises(SecretStorageError):
        decrypt(key, "m.cross_signing.self_signing", payload)  # bound to the name
    check = key_check(key)
    assert key_matches(key, check) and not key_matches(other, check)


@pytest.mark.parametrize(("signed", "status"), [(True, "ready"), (False, "degraded")])
async def test_e2ee_readyz_degraded_when_not_cross_signed(signed: bool, status: str) -> None:
    async def database() -> bool:
        return True

    probes = Probes(synced=lambda: True, database=database, cross_signed=lambda: signed)
    client = TestClient(TestServer(make_app(probes, Metrics())))
    await client.start_server()
    try:
        response = await client.get("/readyz")
        body = await response.json()
    finally:
        await client.close()
    assert response.status == 200
    assert body["status"] == status
    assert body["checks"]["cross_signed"] is signed
    assert body["checks"]["synced"] is True and body["checks"]["database"] is True


def test_e2ee_backup_session_data_opens_with_vodozemac() -> None:
    import vodozemac

    from bot.matrix.e2ee.backup import decrypt_session, encrypt_session, public_key

    private = os.urandom(32)
    plaintext = {"algorithm": "m.megolm.v1.aes-sha2", "session_key": "AQ" * 20}
    data = encrypt_session(public_key(private), plaintext)
    pk = vodozemac.PkDecryption.from_key(vodozemac.Curve25519SecretKey.from_bytes(private))
    message = vodozemac.Message.from_base64(data["ciphertext"], data["mac"], data["ephemeral"])
    assert json.loads(pk.decrypt(message)) == plaintext
    assert decrypt_session(private, data) == plaintext
    with pytest.raises(ValueError):
        decrypt_session(os.urandom(32), data)


def test_e2ee_key_file_is_encrypted_with_the_store_passphrase(tmp_path) -> None:
    from bot.matrix.e2ee.keystore import CrossSigningKeys, KeyFile

    keys = CrossSigningKeys.generate()
    KeyFile(tmp_path, "@bot:x").save(keys)  # written before a passphrase was configured
    assert KeyFile(tmp_path, "@bot:x", "pass").load() == keys  # ... and encrypted now
    text = (tmp_path / "cross_signing.json").read_text()
    assert "encrypted" in text
    assert all(seed not in text for seed in keys.to_json().values())
    assert KeyFile(tmp_path, "@bot:x", "other").load() is None
    assert KeyFile(tmp_path, "@bot:x").load() is None  # encrypted, no passphrase given
    assert KeyFile(tmp_path, "@other:x", "pass").load() is None


def _envelope(relates: dict | None = None) -> object:
    from nio import Event

    content = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgA",
        "sender_key": "k" * 43,
        "session_id": "s",
        "device_id": "D",
    }
    if relates is not None:
        content["m.relates_to"] = relates
    source = {
        "type": "m.room.encrypted",
        "event_id": "$e",
        "sender": "@m:x",
        "origin_server_ts": 1,
        "content": content,
    }
    return Event.parse_event(source)


def test_e2ee_guard_ignores_state_and_takes_relations_from_the_envelope() -> None:
    from nio import Event, RoomMemberEvent

    from bot.matrix.e2ee.guard import IGNORED, sanitize

    member = Event.parse_event(
        {
            "type": "m.room.member",
            "state_key": "@outsider:x",
            "event_id": "$e",
            "sender": "@m:x",
            "origin_server_ts": 1,
            "content": {"membership": "join"},
        }
    )
    assert isinstance(member, RoomMemberEvent)  # what nio would apply to its member list
    safe = sanitize(member, _envelope())
    assert safe.source["type"] == IGNORED and "state_key" not in safe.source

    def message(relates: dict) -> object:
        return Event.parse_event(
            {
                "type": "m.room.message",
                "event_id": "$e",
                "sender": "@m:x",
                "origin_server_ts": 1,
                "content": {"msgtype": "m.text", "body": "!ping", "m.relates_to": relates},
            }
        )

    forged = {"rel_type": "m.thread", "event_id": "$bogus"}
    assert "m.relates_to" not in sanitize(message(forged), _envelope()).source["content"]
    clear = {"m.in_reply_to": {"event_id": "$real"}}
    kept = sanitize(message(forged), _envelope(clear)).source["content"]["m.relates_to"]
    assert kept == clear


async def test_e2ee_store_written_with_another_passphrase_is_a_plain_login_error(
    tmp_path,
) -> None:
    from nio import AsyncClient, AsyncClientConfig

    from bot.app import build_router
    from bot.clock import ManualClock
    from bot.matrix.client import MatrixBot
    from bot.matrix.session import LoginFailed, StoredSession, save_session
    from bot.storage import Database
    from tests.support.desk import START, make_services, make_settings

    store = tmp_path / "store"
    store.mkdir()
    old = AsyncClient(
        "http://127.0.0.1:1",
        "@bot:test",
        store_path=str(store),
        config=AsyncClientConfig(encryption_enabled=True, pickle_key="first passphrase"),
    )
    old.restore_login("@bot:test", "DEV", "token")  # writes the store with that key
    await old.close()
    settings = make_settings(
        matrix={
            "homeserver": "http://127.0.0.1:1",
            "user_id": "@bot:test",
            "password": "x" * 8,
            "store_path": str(store),
            "store_passphrase": "another passphrase",
        }
    )
    save_session(
        settings.matrix, StoredSession(settings.matrix.homeserver, "@bot:test", "DEV", "t")
    )
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    services = make_services(db, settings, clock=ManualClock(START))
    bot = MatrixBot(settings, services, build_router(services))
    try:
        with pytest.raises(LoginFailed, match=r"matrix\.store_passphrase"):
            await bot.login()
    finally:
        await bot.close()
        await db.close()
