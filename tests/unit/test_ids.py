"""Case ids (T-12, INC-3) and Matrix user ids: one parser each, for every command."""

from __future__ import annotations

import pytest

from bot.ids import INCIDENT, TICKET, CaseRef, UserId, check_user_ids


@pytest.mark.parametrize(
    ("text", "kind", "number"),
    [
        ("T-12", "T", 12),
        ("t12", "T", 12),
        ("T12", "T", 12),
        ("t-12", "T", 12),
        ("T#12", "T", 12),
        ("INC-3", "INC", 3),
        ("inc3", "INC", 3),
        ("  INC-3 ", "INC", 3),
        ("#12", None, 12),
        ("12", None, 12),
        ("X-7", "X", 7),  # a shape like an id; the caller says it knows no X- cases
    ],
)
def test_ids_case_ref_parses_what_people_type(text: str, kind: str | None, number: int) -> None:
    assert CaseRef.parse(text) == CaseRef(kind, number)


@pytest.mark.parametrize(
    "text", ["", "T-", "T-12a", "12.5", "T--12", "T-1234567890", "²", "T 12", "INC-٣", "-12"]
)
def test_ids_case_ref_refuses_the_rest(text: str) -> None:
    with pytest.raises(ValueError, match="is not a case id"):
        CaseRef.parse(text)


def test_ids_case_ref_prints_the_canonical_id() -> None:
    assert str(CaseRef.parse("t12")) == "T-12"
    assert str(CaseRef.parse("inc3")) == "INC-3"
    assert str(CaseRef.ticket(5)) == "T-5" and str(CaseRef.incident(5)) == "INC-5"
    assert str(CaseRef.parse("#9")) == "9"


def test_ids_case_ref_parse_as_one_kind() -> None:
    assert CaseRef.parse_as("t12", TICKET) == 12
    assert CaseRef.parse_as("12", TICKET) == 12
    assert CaseRef.parse_as("INC-12", TICKET) is None
    assert CaseRef.parse_as("inc-4", INCIDENT) == 4
    assert CaseRef.parse_as("T-4", INCIDENT) is None
    assert CaseRef.parse_as("banana", INCIDENT) is None


@pytest.mark.parametrize("text", ["@alice:example.org", "@a:b:8448", "@bot.x:localhost"])
def test_ids_user_id_accepts_matrix_ids(text: str) -> None:
    assert UserId.parse(text) == text
    assert check_user_ids([text]) == [text]


@pytest.mark.parametrize("text", ["alice", "@alice", "alice:example.org", "@a b:c", "", "@:x"])
def test_ids_user_id_refuses_the_rest(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a Matrix user id like @name:example\.org"):
        UserId.parse(text)
    with pytest.raises(ValueError):
        check_user_ids(["@ok:example.org", text])
