"""Parsing of ticket commands: options, states, resolutions, ids."""

from __future__ import annotations

import pytest

from bot.commands.errors import UsageError
from bot.features.tickets.parsing import (
    parse_filing,
    parse_ref,
    parse_resolution,
    parse_state,
    strip_reply_fallback,
)


def test_tickets_parse_filing_options_in_any_order() -> None:
    assert parse_filing("anonymous #access  #VPN assessment\nmy vpn\nbroke") == (
        "assessment",
        ["access", "vpn"],
        True,
        "my vpn\nbroke",
    )
    assert parse_filing("what is #access?") == ("help", [], False, "what is #access?")
    assert parse_filing("#access") == ("help", ["access"], False, "")
    assert parse_filing("") == ("help", [], False, "")


def test_tickets_parse_state_words() -> None:
    assert parse_state("in progress") == "in_progress"
    assert parse_state("waiting on reporter") == "waiting"
    assert parse_state("Triaged") == "triaged"
    with pytest.raises(UsageError):
        parse_state("done-ish")


def test_tickets_parse_resolution_and_refs() -> None:
    assert parse_resolution("not a security matter ask dns") == ("not_security", "ask dns")
    assert parse_resolution("no-response") == ("no_response", "")
    assert parse_resolution("duplicate of T-3") == ("duplicate", "of T-3")
    with pytest.raises(UsageError):
        parse_resolution("because")
    assert parse_ref("T-12") == parse_ref("t12") == parse_ref("#12") == parse_ref("12") == 12
    with pytest.raises(UsageError):
        parse_ref("INC-3")


def test_tickets_strip_reply_fallback() -> None:
    assert strip_reply_fallback("> <@bot:x> hello\n> more\n\nmy answer") == "my answer"
    assert strip_reply_fallback("plain") == "plain"
