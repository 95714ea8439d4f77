"""Warnings about a valid campaigns file: things that work but make a weaker tip.

Each tip should end in *one action* (a line like ``**Today's action:** ...``) and send
people only to ``https`` links. These are warnings, not errors: the file still loads.
"""

from __future__ import annotations

import re

from bot.features.tips.campaigns import Campaign

_ACTION = re.compile(r"^\W*(today'?s\s+)?action\b", re.IGNORECASE | re.MULTILINE)
_MD_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)")
_BARE_HTTP = re.compile(r"(?<![\w(<])http://\S+", re.IGNORECASE)


def tip_warnings(campaigns: list[Campaign]) -> list[str]:
    """Every warning, with the campaign and day it is about."""
    warnings: list[str] = []
    for campaign in campaigns:
        for tip in campaign.tips:
            where = f"{campaign.name} day {tip.day} ({tip.title})"
            if not _ACTION.search(tip.body):
                warnings.append(
                    f"{where}: no action line (end the body with a line like "
                    f'"**Today\'s action:** ...")'
                )
            links = [tip.link] if tip.link else []
            links += _MD_LINK.findall(tip.body) + _BARE_HTTP.findall(tip.body)
            for link in links:
                if not link.lower().startswith(("https://", "mailto:")):
                    warnings.append(f"{where}: link {link} does not use https")
    return warnings
