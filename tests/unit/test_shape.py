"""The shape rules of docs/architecture.md: small modules, short functions.

No module of the runtime package over ~300 lines (320 allowed for a docstring's slack), no
function over 60 lines: a module or function that grows past them is split by job.
"""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"
MAX_MODULE_LINES = 320
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(BOT.rglob("*.py"))


def test_no_module_is_too_long() -> None:
    long = {
        str(p.relative_to(BOT.parent)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"split these modules by job: {long}"


def test_no_function_is_too_long() -> None:
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(BOT.parent)}:{node.name}"] = lines
    assert not long, f"split these functions: {long}"


def test_the_rules_see_the_package() -> None:
    assert len(_modules()) > 100  # a wrong path would make the two tests above pass
