"""Tip posts: Markdown rendered safely, the help footer and the ✅ invitation."""

from __future__ import annotations

import yaml

from bot.features.tips.loader import parse_campaigns
from bot.features.tips.render import markdown_html, tip_message
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
    text, html = tip_message(c, c.tips[0], "!")
    assert text.startswith("🔐 Campaign month — day 1 of 5: Tip 1 of month")
    assert "Do **thing 1** today." in text
    assert "Guide: https://example.org/guide?a=1&b=2" in text
    assert "Reply to this post in a thread and a no-judgement ticket opens" in text
    assert "send !stuck to me in a direct message (!stuck anonymous" in text
    assert "React with ✅" in text
    assert "<strong>thing 1</strong>" in html
    assert 'href="https://example.org/guide?a=1&amp;b=2"' in html
    assert "<code>!stuck</code>" in html and "✅" in html
    copy, _ = tip_message(c, c.tips[0], "!", post=False)  # an answer to !tip: no thread
    assert "thread" not in copy and "Send !stuck to me in a direct message" in copy
