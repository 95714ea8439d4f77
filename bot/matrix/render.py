"""Markdown to Matrix text: safe HTML for ``formatted_body`` and plain text for ``body``.

Every message is written once, in Markdown; this is the one place it becomes HTML and
plain text. markdown-it-py runs with raw HTML *disabled* (any ``<tag>`` is shown as text)
and a link validator that keeps only http(s), mailto and matrix.to links, so neither a
tip file nor user text can inject markup into a room. Single line breaks are kept.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.matrix.content import MARKDOWN_KEY, clip

_BETWEEN_TAGS = re.compile(r">\n+(?=<)")
SAFE_SCHEMES = ("http://", "https://", "mailto:")
NBSP = "\u00a0"

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.validateLink = lambda url: url.strip().lower().startswith(SAFE_SCHEMES)  # type: ignore[method-assign]
# Chat messages keep their line breaks (a single newline is a line break, not a space).
_chat = MarkdownIt(
    "commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True}
)
_chat.validateLink = _md.validateLink  # type: ignore[method-assign]
_chat.enable("table")  # reports (``!show INC-N``) are Markdown tables


def markdown_html(text: str) -> str:
    """Markdown to HTML as a document (single newlines are spaces): tips, handbooks."""
    return _md.render(text).strip()


def to_html(text: str) -> str:
    """A chat message's Markdown to HTML (line breaks kept, one paragraph unwrapped)."""
    env: dict[str, Any] = {}
    return _html_of(_chat.parse(text, env), env)


def _html_of(tokens: list[Token], env: dict[str, Any]) -> str:
    rendered = _chat.renderer.render(tokens, _chat.options, env).strip()
    if rendered.startswith("<p>") and rendered.endswith("</p>") and rendered.count("<p>") == 1:
        rendered = rendered[3:-4]
    # Newlines between tags are noise in formatted_body (inside <pre> text they stay).
    return _BETWEEN_TAGS.sub(">", rendered.replace("<br />\n", "<br/>"))


def _inline_plain(children: list[Token]) -> str:
    out: list[str] = []
    href: list[str | None] = []
    start: list[int] = []
    for tok in children:
        if tok.type == "text":
            out.append(tok.content.replace(NBSP, " "))  # kept indentation (md.escape)
        elif tok.type == "code_inline":
            out.append(tok.content)
        elif tok.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif tok.type == "link_open":
            href.append(str(tok.attrGet("href") or ""))
            start.append(len(out))
        elif tok.type == "link_close" and href:
            url, at = href.pop(), start.pop()
            label = "".join(out[at:])
            target = url.removeprefix("mailto:")
            if url.startswith("https://matrix.to/#/"):
                continue  # a pill: its label is the name
            if target and target != label:
                out.append(f" ({url})")
        elif tok.type == "image":
            out.append(tok.content)
    return "".join(out)


def to_plain(text: str) -> str:
    """A chat message's Markdown as plain text: markup dropped, escapes undone.

    Links keep their target in brackets, list items start with "• " (or, indented, their
    number), code blocks, headings and table rows keep their text. Blocks are separated
    as in the source: by a line break where they were on consecutive lines, by a blank
    line where the source had one.
    """
    return _plain_of(_chat.parse(text, {}))


def _plain_of(tokens: list[Token]) -> str:
    out, end = "", 0
    marker: str | None = None
    row: list[str] | None = None
    span = (0, 0)
    for tok in tokens:
        if tok.type == "tr_open":
            row, span = [], _span(tok, end)
            continue
        if tok.type == "inline" and row is not None:
            row.append(_inline_plain(tok.children or []))
            continue
        if tok.type == "list_item_open":
            marker = f"  {tok.info}{tok.markup} " if tok.info else "• "
            continue
        if tok.type == "tr_close" and row is not None:
            block, row = "| " + " | ".join(row) + " |", None
            if block.strip("| ") == "":  # a table without a header row still has one, empty
                continue
        elif tok.type == "inline":
            block, span = _inline_plain(tok.children or []), _span(tok, end)
        elif tok.type in ("fence", "code_block", "hr"):
            block = tok.content.rstrip("\n") if tok.type != "hr" else "———"
            span = _span(tok, end)
        else:
            continue
        if out:
            out += "\n" if span[0] <= end else "\n\n"
        out += (marker or "") + block
        marker, end = None, span[1]
    return out


def _span(tok: Token, default: int) -> tuple[int, int]:
    """The source lines ``[start, end)`` a block token came from."""
    return (tok.map[0], tok.map[1]) if tok.map else (default, default)


# Lines of words that Markdown leaves as they are: each starts with a letter and holds
# only letters, digits, single spaces and punctuation that marks nothing up there.
_PLAIN_LINE = r"[^\W\d_](?:[^\W_]|[ ](?=[^ \n])|[,;:?!'()/@%+=.-])*"
_PLAIN = re.compile(rf"{_PLAIN_LINE}(?:\n{_PLAIN_LINE})*")
CACHED_LENGTH = 2000  # longer texts are rendered every time (the cache stays small)


def render(text: str) -> tuple[str, str]:
    """``(plain, html)`` for a Markdown message.

    Plain lines of words ("pong") are their own plain text and HTML (the line breaks as
    ``<br/>``); anything else is parsed once for both, and short texts are remembered (a
    bot answers the same question the same way many times).
    """
    if _PLAIN.fullmatch(text):
        return text, text.replace("\n", "<br/>")
    if len(text) > CACHED_LENGTH:
        return _render(text)
    return _render_cached(text)


def _render(text: str) -> tuple[str, str]:
    env: dict[str, Any] = {}
    tokens = _chat.parse(text, env)
    return _plain_of(tokens), _html_of(tokens, env)


_render_cached = lru_cache(maxsize=256)(_render)


def event_content(stored: dict[str, Any]) -> dict[str, Any]:
    """The event to send for an outbox row's ``stored`` content.

    A Markdown row (see ``bot.matrix.content.markdown_content``) is rendered here, once,
    each text field clipped to fit an event; any other content (reactions, older rows
    that hold the finished event) is returned as it is.
    """
    markdown = stored.get(MARKDOWN_KEY)
    if not isinstance(markdown, str):
        return stored
    plain, html = render(markdown)
    event = {key: value for key, value in stored.items() if key != MARKDOWN_KEY}
    event["body"] = clip(plain)
    event["format"] = "org.matrix.custom.html"
    event["formatted_body"] = clip(html, is_html=True)
    return event
