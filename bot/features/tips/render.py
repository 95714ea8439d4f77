"""Turn a tip into a Matrix message: Markdown body to safe HTML, plus the help footer.

Markdown goes through the bot's one Markdown renderer (:mod:`bot.matrix.render`, raw
HTML *disabled*: any ``<tag>`` in a tip is shown as text, and link targets other than
http(s)/mailto are dropped), so a tip file cannot inject markup into the room.
"""

from __future__ import annotations

from datetime import date

from bot.commands.context import escape
from bot.features.tips.campaigns import Campaign, Tip
from bot.messaging import markdown_html

__all__ = ["DONE_KEY", "footer", "heading", "markdown_html", "tip_message"]

DONE_KEY = "✅"


def footer(prefix: str, *, post: bool = True) -> tuple[str, str]:
    """How to get help about this tip, and the ✅ invitation (plain, HTML).

    ``post``: the text of a tip *post* (a thread reply to it opens a ticket); a copy of a
    tip sent as an answer to ``!tip`` points to ``!stuck`` only.
    """
    p = escape(prefix)
    thread = (
        "Reply to this post in a thread and a no-judgement ticket opens for you, already "
        "tagged with this tip. Or send "
        if post
        else "Send "
    )
    plain = (
        f"Stuck on this one? {thread}{prefix}stuck to me in a direct message "
        f"({prefix}stuck anonymous to stay anonymous). No judgement, ever. "
        f"Done? React with {DONE_KEY}."
    )
    rich = (
        f"<p><em>Stuck on this one? {escape(thread)}<code>{p}stuck</code> to me in a direct "
        f"message (<code>{p}stuck anonymous</code> to stay anonymous). No judgement, ever. "
        f"Done? React with {DONE_KEY}.</em></p>"
    )
    return plain, rich


def heading(campaign: Campaign, tip: Tip, when: date | None) -> str:
    dated = f" ({when.strftime('%a %d %b %Y')})" if when else ""
    return f"{campaign.title} — day {tip.day} of {campaign.length}{dated}: {tip.title}"


def tip_message(
    campaign: Campaign,
    tip: Tip,
    prefix: str,
    *,
    when: date | None = None,
    with_footer: bool = True,
    post: bool = True,
) -> tuple[str, str]:
    """The post (plain body, HTML) for ``tip``.

    Args:
        campaign: the campaign the tip belongs to.
        tip: the tip.
        prefix: the command prefix (for the ``!ticket`` hint).
        when: the local date it is (or was) posted, shown in the heading.
        with_footer: end with how to get help and the ✅ invitation.
        post: the text of the daily post (False: a copy sent as an answer).
    """
    head = heading(campaign, tip, when)
    plain = [f"🔐 {head}", "", tip.body]
    rich = [f"<h4>🔐 {escape(head)}</h4>", markdown_html(tip.body)]
    if tip.link:
        plain += ["", f"Guide: {tip.link}"]
        rich.append(f'<p>Guide: <a href="{escape(tip.link)}">{escape(tip.link)}</a></p>')
    if with_footer:
        foot_plain, foot_rich = footer(prefix, post=post)
        plain += ["", foot_plain]
        rich.append(foot_rich)
    return "\n".join(plain), "".join(rich)
