"""How the map's answers read: one Markdown text each (map and user parts escaped).

Owners appear as mention pills but are not pinged (no ``m.mentions``): the asker is told
whom to contact; the owner is not woken up every time someone asks.
"""

from __future__ import annotations

from datetime import datetime

from bot.commands.context import Reply
from bot.features.ownership.matching import AreaView, SearchResult
from bot.features.ownership.service import Gap, Snapshot
from bot.messaging.md import code, escape, mention


def _people(ids: tuple[str, ...] | list[str]) -> str:
    if not ids:
        return "*nobody yet*"
    return ", ".join(mention(i) for i in ids)


def _verified(view: AreaView, now: datetime) -> str:
    when = view.last_verified
    if not isinstance(when, datetime):
        return "never verified"
    days = (now - when).days
    ago = "today" if days <= 0 else f"{days} day{'s' if days != 1 else ''} ago"
    by = f" by {view.verified_by}" if view.verified_by else ""
    return f"last verified {when:%Y-%m-%d} ({ago}){by}"


def _provenance(view: AreaView, now: datetime) -> str:
    """Where the entry lives and when it was last checked."""
    if view.source:
        file, _, line = view.source.rpartition(":")
        where = f"source: {file} line {line}"
    else:
        where = "source: no file recorded (added in chat or imported from stdin)"
    return f"{where}; {_verified(view, now)}"


def first_contact(
    view: AreaView, stale: str | None, on_call: list[str], fallback_contact: str
) -> str:
    """Whom to contact first: the owner, else (stale) backup → on-call → security team."""
    if not stale and view.owners:
        return view.owners[0]
    if view.backups:
        return view.backups[0]
    if on_call:
        return on_call[0]
    return fallback_contact


def answer(
    view: AreaView,
    snap: Snapshot,
    now: datetime,
    fallback_contact: str,
    *,
    why: str = "",
    stale: str | None = None,
    on_call: list[str] | None = None,
) -> Reply:
    """The owner of ``view``, backups, champion, on-call, how to contact them, why it
    matched, where the entry lives; when the owner is stale, the chain to walk."""
    on_call = on_call or []
    text = [f"**{escape(view.name)}**: owned by {_people(view.owners)}"]
    text.append(f"Backup: {_people(view.backups)}")
    if not view.owners:
        text.append(f"No owner is recorded yet: please ask {escape(fallback_contact)}.")
    if stale:
        first = first_contact(view, stale, on_call, fallback_contact)
        warn = (
            f"⚠ Careful: {stale}. Contact first: {first} "
            "(then: owner → backup → on-call → security team)."
        )
        text.append(f"**{escape(warn)}**")
    if view.contact:
        text.append(f"How to contact: {escape(view.contact)}")
    if view.team:
        champion = snap.champions.get(view.team)
        named = mention(champion) if champion else "*none named*"
        text.append(f"Team {escape(view.team)}, security champion: {named}")
    if view.security or stale:
        who = _people(on_call) if on_call else "*nobody configured*"
        text.append(f"On call now for security: {who}")
    if view.security:
        text.append(
            "🔒 This is a security matter: never paste passwords, keys or seed phrases in chat."
        )
    for link in view.links:
        text.append(f"See: [{escape(link)}](<{link}>)")
    if why:
        text.append(f"*({escape(why.split(';')[0])})*")
    text.append(f"*({escape(_provenance(view, now))})*")
    return Reply("\n".join(text))


def ambiguous(thing: str, result: SearchResult, prefix: str) -> Reply:
    """Several close candidates: say so, list the top three, name no owner."""
    names = [m.area.name for m in result.matches[:3]]
    text = [f"Several areas match {escape(repr(thing))}; which one do you mean?", ""]
    text += [f"{i}. {escape(n)}" for i, n in enumerate(names, 1)]
    text += ["", f"Ask again with its name, e.g. {code(f'{prefix}owner {names[0]}')}"]
    return Reply("\n".join(text))


def fallback(thing: str, result: SearchResult, contact: str, prefix: str) -> Reply:
    """No confident match: no owner named, route to the fallback contact and !ticket."""
    text = (
        f"The responsibilities map has no owner for {escape(repr(thing))}. "
        f"Please ask {escape(contact)}, or open a private ticket with {code(prefix + 'ticket')}."
    )
    if result.near_misses:
        names = ", ".join(m.area.name for m in result.near_misses)
        text += f"\n*(If you meant one of these, ask {code(prefix + 'owner <name>')}: "
        text += f"{escape(names)})*"
    return Reply(text)


def which_thing(contact: str, prefix: str) -> Reply:
    """A question about "it"/"this"/"that" with no confident match: ask which thing."""
    text = (
        f"Which thing do you mean? Ask me again with its name, e.g. "
        f"{code(prefix + 'owner <thing>')}. If you are not sure, please ask "
        f"{escape(contact)}, or open a private ticket with {code(prefix + 'ticket')}."
    )
    return Reply(text)


def area_list(views: list[AreaView], title: str, page: int, pages: int, footer: str) -> Reply:
    text = [f"**{escape(title)}** (page {page}/{pages}):", ""]
    for v in views:
        team = f" [{v.team}]" if v.team else ""
        text.append(f"- {escape(v.name + team)} — {_people(v.owners)}")
    if footer:
        text += ["", escape(footer)]
    return Reply("\n".join(text))


def gap_list(gaps: list[Gap], changes: list | None = None, prefix: str = "!") -> Reply:
    """Areas that need attention, then owners' answers waiting for the team."""
    changes = changes or []
    if not gaps and not changes:
        return Reply("No gaps: every area has an owner, a backup and a recent verification.")
    text = [f"{len(gaps)} area(s) need attention:", ""]
    text += [f"- {escape(g.area.name)}: {escape(', '.join(g.problems))}" for g in gaps]
    if changes:
        text += ["", f"{len(changes)} proposed change(s) from owners' answers:", ""]
        for c in changes:
            new = c.proposed_owner or "nobody named"
            line = (
                f"#{c.id} {c.area_name}: {c.owner} answered no; proposed owner: {new} "
                f"→ {prefix}owners accept {c.id}"
            )
            text.append(f"- {escape(line)}")
    return Reply("\n".join(text))
