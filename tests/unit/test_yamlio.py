"""The one YAML loader: data, the line of each key, and validation problems with lines."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.yamlio import YamlSyntaxError, parse_yaml, problems

TEXT = """\
name: demo
items:
  - key: a
    size: 1
  - key: b
    size: big
"""


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    size: int


class File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    items: list[Item]


def test_yamlio_lines_of_keys_and_items() -> None:
    doc = parse_yaml(TEXT)
    assert doc.data["items"][1] == {"key": "b", "size": "big"}
    assert doc.line(("name",)) == 1
    assert doc.line(("items", 1)) == 5
    assert doc.line(("items", 1, "size")) == 6
    # Past the end of the file: the nearest place, or None when asked for the exact one.
    assert doc.line(("items", 1, "colour")) == 5
    assert doc.line(("items", 1, "colour"), exact=True) is None
    assert doc.key_lines(("items", 0)) == {"key": 3, "size": 4}


def test_yamlio_validation_problems_name_key_and_line() -> None:
    doc = parse_yaml(TEXT + "extra: 1\n")
    with pytest.raises(ValidationError) as info:
        File.model_validate(doc.data)
    found = {p.key: (p.line, p.message) for p in problems(info.value, doc)}
    assert found["items.1.size"][0] == 6 and "integer" in found["items.1.size"][1]
    assert found["extra"] == (7, "unknown key")


def test_yamlio_missing_key_has_no_invented_line() -> None:
    doc = parse_yaml("name: x\n")
    with pytest.raises(ValidationError) as info:
        File.model_validate(doc.data)
    [problem] = problems(info.value, doc)
    assert (problem.key, problem.line, problem.message) == (
        "items",
        None,
        "required key is missing",
    )


def test_yamlio_syntax_error_has_line_and_column() -> None:
    with pytest.raises(YamlSyntaxError) as info:
        parse_yaml("a: 1\nb: [unclosed\nc: 2\n")
    assert info.value.line is not None and 2 <= info.value.line <= 4
    assert str(info.value).startswith(f"not valid YAML at line {info.value.line}, column ")
