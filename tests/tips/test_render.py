"""Tip posts: Markdown rendered safely, the help footer and the ✅ invitation."""

from __future__ import annotations

import yaml

from bot.features.tips.loader import parse_campaigns
from bot.features.tips.render import markdown_html, tip_message, unwrap
from bot.matrix.render import render, to_plain
from bot.messaging.md import with_prefix
from tests.tips.helpers import campaign_doc


def test_tips_markdown_escapes_html_and_drops_unsafe_links() -> None:
    html = markdown_html(
        "**Do** it <script>alert(1)</script> [x](javascript:alert(1)) [ok](https://a.example)"
    )
    assert "<strong>Do</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert '<a href="https://a.example">ok</a>' in html


def test_tips_post_has_heading_body_link_and_footer() -> None:
    doc = campaign_doc()
    doc["tips"][0]["link"] = "https://example.org/guide?a=1&b=2"
    (c,) = parse_campaigns(yaml.safe_dump({"campaigns": [doc]}))
    text = with_prefix(tip_message(c, c.tips[0]), "!")
    plain, html = render(text)
    assert plain.startswith("🔐 Campaign month — day 1 of 5: Tip 1 of month")
    assert "Do **thing 1** today." in text and "Do thing 1 today." in plain
    assert "Guide: https://example.org/guide?a=1&b=2" in plain
    assert "Reply to this post in a thread and a no-judgement ticket opens" in plain
    assert "send !stuck to me in a direct message (!stuck anonymous" in plain
    assert "React with ✅" in plain
    assert "<strong>thing 1</strong>" in html
    assert 'href="https://example.org/guide?a=1&amp;b=2"' in html
    assert "<code>!stuck</code>" in html and "✅" in html
    copy = to_plain(with_prefix(tip_message(c, c.tips[0], post=False), "!"))  # no thread
    assert "thread" not in copy and "Send !stuck to me in a direct message" in copy


def test_tips_wrapped_prose_is_joined_but_lists_keep_their_lines() -> None:
    body = "Install a password manager\n(on your laptop) **and**\nphone.\n\n- one\n- two\n1. x"
    assert unwrap(body) == (
        "Install a password manager (on your laptop) **and** phone.\n\n- one\n- two\n1. x"
    )
    assert unwrap("```\na\nb\n```") == "```\na\nb\n```"
