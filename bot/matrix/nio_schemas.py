"""nio's JSON schema checks with one validator per schema instead of one per call.

nio checks every response and every event it parses against a JSON schema with
``Validator(schema, format_checker=Checker).validate(instance)``: a new validator each
time, which then sets up its reference resolver again on its first use. That was about a
third of each check (0.15 -> 0.09 ms; nine checks per ``!ping``: the two syncs, their
events, the send's answer). :func:`install` gives nio a ``validate_json`` that keeps one
validator per schema: the same validator class (with nio's filling in of defaults), the
same format checker, the same schema, so the same verdicts and the same errors.
"""

from __future__ import annotations

import importlib
from typing import Any

from nio import schemas

# Every module of nio that imported ``validate_json`` by name (see ``install``).
_USERS = ("nio.schemas", "nio.responses", "nio.events.misc", "nio.crypto.olm_machine")
_MAX_SCHEMAS = 256  # nio's schemas are module constants; this only bounds a surprise

_validators: dict[int, Any] = {}


def validate_json(instance: Any, schema: dict[str, Any]) -> None:
    """nio's ``validate_json``, with the validator of ``schema`` kept for the next call.

    Raises:
        jsonschema.ValidationError: ``instance`` does not match ``schema`` (as nio's).
    """
    validator = _validators.get(id(schema))
    if validator is None or validator.schema is not schema:
        if len(_validators) >= _MAX_SCHEMAS:
            _validators.clear()
        validator = schemas.Validator(schema, format_checker=schemas.Checker)
        _validators[id(schema)] = validator
    validator.validate(instance)


def install() -> None:
    """Make nio use :func:`validate_json` (idempotent)."""
    for name in _USERS:
        module = importlib.import_module(name)
        if hasattr(module, "validate_json"):
            module.validate_json = validate_json
