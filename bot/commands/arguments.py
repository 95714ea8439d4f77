"""Reading declared arguments (:class:`bot.commands.registry.Arg`) from a command's text.

Errors are :class:`UsageError` with the argument's own friendly text, so the router adds
the usage line like for any other usage mistake.
"""

from __future__ import annotations

from typing import Any

from bot.commands.errors import UsageError
from bot.commands.registry import IGNORED, Arg, ArgKind, Command, SubCommand
from bot.ids import CaseRef, UserId, parse_number
from bot.messaging import md


def parse_args(
    spec: tuple[Arg, ...], text: str, prefix: str, extra: str | None = None
) -> dict[str, Any]:
    """``text`` read as ``spec``: one value per declared argument (None when omitted).

    Words beyond ``spec`` are refused with ``extra`` (default "I didn't expect ..."),
    or dropped when ``extra`` is ``IGNORED``.
    """
    params: dict[str, Any] = {}
    rest = text.strip()
    for arg in spec:
        if arg.kind is ArgKind.TEXT:
            word, rest = rest, ""
        else:
            word, rest = (*rest.split(maxsplit=1), "", "")[:2]
        if not word:
            if not arg.optional:
                raise UsageError(_text(arg.missing, prefix) or f"Give the {arg.name}.")
            params[arg.name] = None
            continue
        params[arg.name] = _value(arg, word, prefix)
    if rest and extra != IGNORED:
        raise UsageError(_text(extra, prefix) or f"I didn't expect {md.escape(repr(rest))} there.")
    return params


def _value(arg: Arg, word: str, prefix: str) -> Any:
    if arg.choices:
        if word.lower() not in arg.choices:
            default = f"Choose one of: {', '.join(arg.choices)}."
            raise UsageError(_text(arg.invalid, prefix, word) or default)
        return word.lower()
    try:
        if arg.kind is ArgKind.NUMBER:
            number = parse_number(word.removeprefix("#"))
            if number is None:
                raise ValueError(f"{word!r} is not a number.")
            return number
        if arg.kind is ArgKind.CASE:
            return CaseRef.parse(word)
        if arg.kind is ArgKind.USER:
            return UserId.parse(word)
    except ValueError as exc:
        raise UsageError(
            _text(arg.invalid, prefix, word) or md.escape(str(exc).rstrip(".") + ".")
        ) from None
    return word


def _text(template: str | None, prefix: str, word: str = "") -> str | None:
    if not template:
        return None
    # The word typed is data: escaped, so it shows as written in the Markdown refusal.
    return template.replace("{prefix}", prefix).replace("{word!r}", md.escape(repr(word)))


def usage_line(command: Command, sub: SubCommand | None = None) -> str:
    """``tip preview <day> [campaign]`` (without the prefix)."""
    if sub is None:
        return command.usage or " ".join([command.name, *(a.usage for a in command.args)])
    return " ".join([command.name, sub.name, *(a.usage for a in sub.args)])
