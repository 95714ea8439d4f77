"""The one YAML loader: the data plus the line of every key, and friendly validation errors.

Used by the config (``bot/config.py``), the ownership map, the incident playbooks and the
tip campaigns. The file is parsed once with PyYAML's safe loader (libyaml's C loader when
available: a 10,000-area map loads in well under a second), keeping the node tree whose
marks give each key's line; :func:`problems` turns a pydantic ``ValidationError`` into
:class:`Problem` values (dotted key, line, message worded for the person editing the file).
Each caller words its own sentence around them, so existing messages stay as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

# libyaml when available: the pure-Python parser takes a minute on a 10,000-area map.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

KeyPath = Sequence[str | int]  # keys and list indexes, like a pydantic error's loc


class YamlSyntaxError(Exception):
    """Not YAML; ``line`` and ``column`` are 1-based (None when the parser gave no place)."""

    def __init__(self, problem: str, line: int | None, column: int | None):
        self.problem = problem
        self.line = line
        self.column = column
        super().__init__(f"not valid YAML{self.where()}: {problem}")

    def where(self, *, column: bool = True) -> str:
        """`` at line L, column C`` (or `` at line L``; empty without a place)."""
        if self.line is None:
            return ""
        if column and self.column is not None:
            return f" at line {self.line}, column {self.column}"
        return f" at line {self.line}"


@dataclass(frozen=True)
class YamlDocument:
    """Parsed data (plain dicts, lists, scalars) and the node tree it came from."""

    data: Any
    root: yaml.Node | None

    def line(self, path: KeyPath, *, exact: bool = False) -> int | None:
        """The 1-based line of ``path`` (keys and list indexes, as in a pydantic ``loc``).

        A mapping key gives the key's own line, a list index the item's first line. When
        the path goes further than the file (a missing key), the deepest part found is
        used, or None with ``exact``.
        """
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in path:
            found = _child(node, part)
            if found is None:
                return None if exact else line
            line, node = found
        return line

    def key_lines(self, path: KeyPath = ()) -> dict[str, int]:
        """The line of each key of the mapping at ``path`` (empty when it is not a mapping)."""
        node = self._node(path)
        if not isinstance(node, yaml.MappingNode):
            return {}
        return {
            str(k.value): k.start_mark.line + 1
            for k, _ in node.value
            if isinstance(k, yaml.ScalarNode)
        }

    def _node(self, path: KeyPath) -> yaml.Node | None:
        node = self.root
        for part in path:
            if node is None:
                return None
            found = _child(node, part)
            node = found[1] if found else None
        return node


def _child(node: yaml.Node, part: str | int) -> tuple[int, yaml.Node] | None:
    """(line, node) of ``part`` under ``node``: a key's line and its value, or an item."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value in (part, str(part)):
                return key.start_mark.line + 1, value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        if 0 <= part < len(node.value):
            item = node.value[part]
            return item.start_mark.line + 1, item
    return None


def parse_yaml(text: str) -> YamlDocument:
    """Parse one YAML document, keeping its node tree for line numbers.

    Raises:
        YamlSyntaxError: the text is not YAML (with the parser's line and column).
    """
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise YamlSyntaxError(str(problem), line, column) from None
    finally:
        loader.dispose()
    return YamlDocument(data, root)


@dataclass(frozen=True)
class Problem:
    """One validation problem: where (``loc``, dotted ``key``, ``line``) and what."""

    loc: tuple[str | int, ...]
    line: int | None
    message: str
    type: str

    @property
    def key(self) -> str:
        return ".".join(str(p) for p in self.loc)


def friendly(error: ErrorDetails, *, unknown: str = "unknown key") -> str:
    """Pydantic's message, worded for the person editing the file."""
    if error["type"] == "missing":
        return "required key is missing"
    if error["type"] == "extra_forbidden":
        return unknown
    return error["msg"].removeprefix("Value error, ")


def problems(
    exc: ValidationError,
    doc: YamlDocument | None,
    *,
    base: KeyPath = (),
    exact: bool = True,
    unknown: str = "unknown key",
) -> list[Problem]:
    """Each error of ``exc`` with its line in ``doc`` (the model was fed the data at ``base``)."""
    out = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        line = doc.line((*base, *loc), exact=exact) if doc is not None else None
        out.append(Problem(loc, line, friendly(error, unknown=unknown), error["type"]))
    return out
