"""Markdown helpers: embed user text as data, mention people, substitute the prefix."""

from __future__ import annotations

import re

# Every character CommonMark gives a meaning to (a backslash escapes any ASCII
# punctuation), so user text renders literally: *stars*, [x](y), `ticks`, <tags>.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&=])")
# A line's leading spaces and tabs: Markdown strips them (or, four or more at the start,
# makes the line a code block). As no-break spaces they stay, and HTML keeps them.
_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)
TAB_WIDTH = 4


def _keep_indent(match: re.Match[str]) -> str:
    return match.group(0).replace("\t", " " * TAB_WIDTH).replace(" ", "&nbsp;")


def escape(text: str) -> str:
    """``text`` (from a person) as Markdown that renders exactly as written.

    Markdown punctuation is backslash-escaped, line breaks are kept, and so is each
    line's indentation (as no-break spaces in the HTML, spaces in the plain body; a tab
    counts as four). (``@room`` in
    it pings nobody: a message whose body could fire a legacy push rule (``@room``, a
    member's name) carries ``m.mentions``, which clients obey instead; see
    ``bot.matrix.content.without_redundant_mentions``.)
    """
    return _INDENT.sub(_keep_indent, _SPECIAL.sub(r"\\\1", text))


def code(text: str) -> str:
    """``text`` as inline code (user text allowed: backticks cannot close it early)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(text: str) -> str:
    """``text`` as a fenced code block, shown exactly as written (user text allowed)."""
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}\n{text}\n{fence}"


def mention(user_id: str) -> str:
    """A mention pill for ``user_id`` (also list it in the message's ``mentions``)."""
    return f"[{escape(user_id)}](https://matrix.to/#/{user_id})"


def with_prefix(template: str, prefix: str) -> str:
    """``template`` with ``{prefix}`` replaced by the command prefix.

    Only ever applied to the bot's own texts, never to user text (which may contain
    ``{prefix}`` literally).
    """
    return template.replace("{prefix}", prefix)
