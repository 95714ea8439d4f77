"""Turn a tip into a Matrix message: Markdown body to safe HTML, plus the help footer.

Markdown goes through the bot's one Markdown renderer (:mod:`bot.matrix.render`, raw
HTML *disabled*: any ``<tag>`` in a tip is shown as text, and link targets other than
http(s)/mailto are dropped), so a tip file cannot inject markup into the room.
"""

from __future__ import annotations

import re
from datetime import date

from bot.features.tips.campaigns import Campaign, Tip
from bot.messaging import markdown_html, md

__all__ = ["DONE_KEY", "footer", "heading", "markdown_html", "tip_message", "unwrap"]

DONE_KEY = "✅"

# A line break inside a paragraph: the next line is text, not a list item, quote,
# heading, table row or indented block. Tip files wrap their prose at ~90 columns.
_SOFT_BREAK = re.compile(r"(?<=\S)[ \t]*\n(?=[ ]{0,3}(?![-*+>#|]|\d+[.)]\s)\S)")


def footer(*, post: bool = True) -> str:
    """How to get help about this tip, and the ✅ invitation (Markdown, ``{prefix}`` kept).

    ``post``: the text of a tip *post* (a thread reply to it opens a ticket); a copy of a
    tip sent as an answer to ``!tip`` points to ``!stuck`` only.
    """
    thread = (
        "Reply to this post in a thread and a no-judgement ticket opens for you, already "
        "tagged with this tip. Or send "
        if post
        else "Send "
    )
    return (
        f"*Stuck on this one? {thread}`{{prefix}}stuck` to me in a direct message "
        f"(`{{prefix}}stuck anonymous` to stay anonymous). No judgement, ever. "
        f"Done? React with {DONE_KEY}.*"
    )


def unwrap(body: str) -> str:
    """A tip's Markdown with its wrapped prose joined into lines.

    Chat messages keep single line breaks (:mod:`bot.matrix.render`), tip files are
    written as documents, where a single line break is a space. Fenced code keeps its
    lines (such a body is returned as written).
    """
    if "```" in body or "~~~" in body:
        return body
    return _SOFT_BREAK.sub(" ", body)


def heading(campaign: Campaign, tip: Tip, when: date | None) -> str:
    dated = f" ({when.strftime('%a %d %b %Y')})" if when else ""
    return f"{campaign.title} — day {tip.day} of {campaign.length}{dated}: {tip.title}"


def tip_message(
    campaign: Campaign,
    tip: Tip,
    *,
    when: date | None = None,
    with_footer: bool = True,
    post: bool = True,
) -> str:
    """The post for ``tip``, in Markdown (``{prefix}`` left for the sender to fill in).

    The tip's body is the campaign author's Markdown, kept as written; the heading and
    link are escaped as data.

    Args:
        campaign: the campaign the tip belongs to.
        tip: the tip.
        when: the local date it is (or was) posted, shown in the heading.
        with_footer: end with how to get help and the ✅ invitation.
        post: the text of the daily post (False: a copy sent as an answer).
    """
    parts = [f"#### 🔐 {md.escape(heading(campaign, tip, when))}", unwrap(tip.body)]
    if tip.link:
        parts.append(f"Guide: [{md.escape(tip.link)}](<{tip.link}>)")
    if with_footer:
        parts.append(footer(post=post))
    return "\n\n".join(parts)
