"""nio's schema checks, with validators kept per schema, give nio's own verdicts."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from nio import schemas
from nio.responses import RoomSendResponse, SyncResponse

from bot.matrix import nio_schemas

EVENT = {
    "event_id": "$e:test",
    "sender": "@a:test",
    "type": "m.room.message",
    "origin_server_ts": 1,
    "content": {"msgtype": "m.text", "body": "hi"},
}
CASES: list[tuple[dict[str, Any], Any]] = [
    (schemas.Schemas.room_event, EVENT),
    (schemas.Schemas.room_event, {**EVENT, "sender": "nobody"}),  # not a user id
    (schemas.Schemas.room_event, {k: v for k, v in EVENT.items() if k != "event_id"}),
    (schemas.Schemas.room_message, {"content": {}}),
    (schemas.Schemas.room_event_id, {"event_id": "$x"}),
    (schemas.Schemas.room_event_id, {"event_id": 3}),
    (schemas.Schemas.sync, {"next_batch": "s1"}),  # defaults filled in
    (schemas.Schemas.sync, {"next_batch": 1}),
]


def _outcome(validate: Any, schema: dict[str, Any], instance: Any) -> tuple[Any, str | None]:
    checked = copy.deepcopy(instance)
    try:
        validate(checked, schema)
    except jsonschema.ValidationError as exc:
        return checked, f"{exc.message} at {list(exc.absolute_path)}"
    return checked, None


@pytest.mark.parametrize(("schema", "instance"), CASES)
def test_nio_schemas_same_verdict_defaults_and_error_as_nio(schema: Any, instance: Any) -> None:
    expected = _outcome(schemas.validate_json, schema, instance)
    assert _outcome(nio_schemas.validate_json, schema, instance) == expected
    assert _outcome(nio_schemas.validate_json, schema, instance) == expected  # kept validator


def test_nio_schemas_installed_where_nio_checks_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    from nio import responses
    from nio.events import misc

    monkeypatch.setattr(responses, "validate_json", responses.validate_json)
    monkeypatch.setattr(misc, "validate_json", misc.validate_json)
    nio_schemas.install()
    assert responses.validate_json is nio_schemas.validate_json
    assert misc.validate_json is nio_schemas.validate_json
    assert isinstance(RoomSendResponse.from_dict({"event_id": "$x"}, "!r:test"), RoomSendResponse)
    assert not isinstance(RoomSendResponse.from_dict({"event_id": 3}, "!r:test"), RoomSendResponse)
    assert not isinstance(SyncResponse.from_dict({"next_batch": 1}), SyncResponse)
