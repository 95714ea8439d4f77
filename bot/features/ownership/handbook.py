"""``helpdesk-bot handbook``: the map rendered as one Markdown page for contributors."""

from __future__ import annotations

import re
from datetime import datetime

from bot.features.ownership.models import Area, Team
from bot.features.ownership.text import name_key

NO_TEAM = "Other areas"


def _people(ids: list[str]) -> str:
    return ", ".join(f"`{i}`" for i in ids) if ids else "_nobody yet_"


def _md(text: str) -> str:
    """Neutralise Markdown in free text (it comes from the map, i.e. from people)."""
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)


def render_handbook(
    areas: list[Area],
    teams: list[Team],
    *,
    fallback_contact: str,
    now: datetime,
    prefix: str = "!",
) -> str:
    """Areas grouped by team, with owners, backups, how to contact and security champions."""
    champions = {t.name: t.security_champion for t in teams}
    groups: dict[str, list[Area]] = {}
    for area in sorted(areas, key=lambda a: name_key(a.name)):
        groups.setdefault(area.team or NO_TEAM, []).append(area)
    out = [
        "# Who to contact: the responsibilities map",
        "",
        f"_Generated from the bot's map on {now:%Y-%m-%d}. Do not edit by hand: change "
        f"the map (`helpdesk-bot owners import`, or `{prefix}owner ...` in chat) and "
        "regenerate._",
        "",
        "Ask the bot in the helpdesk room: *who owns X?* If something is not listed here, "
        f"ask {_md(fallback_contact)}. Never paste passwords, keys or seed phrases in chat.",
        "",
        "## Security champions",
        "",
        "| Team | Security champion |",
        "| --- | --- |",
    ]
    for team in sorted(teams, key=lambda t: name_key(t.name)):
        champion = [team.security_champion] if team.security_champion else []
        out.append(f"| {_md(team.name)} | {_people(champion)} |")
    out.append("")
    order = sorted(groups, key=lambda g: (g == NO_TEAM, name_key(g)))
    for group in order:
        out.append(f"## {_md(group)}")
        champion = champions.get(group)
        if group != NO_TEAM:
            out.append("")
            out.append(f"Security champion: {_people([champion] if champion else [])}")
        for area in groups[group]:
            out += ["", f"### {_md(area.name)}{' 🔒' if area.security else ''}", ""]
            if area.description:
                out += [_md(area.description), ""]
            out.append(f"- **Owners:** {_people(list(area.owners))}")
            out.append(f"- **Backups:** {_people(list(area.backups))}")
            if area.contact:
                out.append(f"- **How to contact:** {_md(area.contact)}")
            if area.aliases:
                out.append(f"- **Also known as:** {_md(', '.join(area.aliases))}")
            if area.covers:
                out.append(f"- **Ask them when:** {_md('; '.join(area.covers))}")
            for link in area.links:
                out.append(f"- **See:** <{link}>")
            verified = f"{area.last_verified:%Y-%m-%d}" if area.last_verified else "never"
            out.append(f"- **Last verified:** {verified}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
