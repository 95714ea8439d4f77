"""How the map's answers read, in plain text and HTML (user-supplied parts escaped).

Owners appear as mention pills but are not pinged (no ``m.mentions``): the asker is told
whom to contact; the owner is not woken up every time someone asks.
"""

from __future__ import annotations

from datetime import datetime

from bot.commands.context import Reply, escape, pill
from bot.features.ownership.matching import AreaView, SearchResult
from bot.features.ownership.service import Gap, Snapshot


def _people(ids: tuple[str, ...] | list[str]) -> tuple[str, str]:
    if not ids:
        return "nobody yet", "<em>nobody yet</em>"
    return ", ".join(ids), ", ".join(pill(i) for i in ids)


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
    owners, owners_html = _people(view.owners)
    backups, backups_html = _people(view.backups)
    text = [f"{view.name}: owned by {owners}", f"Backup: {backups}"]
    rich = [f"<strong>{escape(view.name)}</strong>: owned by {owners_html}<br/>"]
    rich.append(f"Backup: {backups_html}<br/>")
    if not view.owners:
        text.append(f"No owner is recorded yet: please ask {fallback_contact}.")
        rich.append(f"No owner is recorded yet: please ask {escape(fallback_contact)}.<br/>")
    if stale:
        first = first_contact(view, stale, on_call, fallback_contact)
        warn = (
            f"⚠ Careful: {stale}. Contact first: {first} "
            "(then: owner → backup → on-call → security team)."
        )
        text.append(warn)
        rich.append(f"<strong>{escape(warn)}</strong><br/>")
    if view.contact:
        text.append(f"How to contact: {view.contact}")
        rich.append(f"How to contact: {escape(view.contact)}<br/>")
    if view.team:
        champion = snap.champions.get(view.team)
        plain_c = champion or "none named"
        html_c = pill(champion) if champion else "<em>none named</em>"
        text.append(f"Team {view.team}, security champion: {plain_c}")
        rich.append(f"Team {escape(view.team)}, security champion: {html_c}<br/>")
    if view.security or stale:
        who, who_html = (
            _people(on_call) if on_call else ("nobody configured", "<em>nobody configured</em>")
        )
        text.append(f"On call now for security: {who}")
        rich.append(f"On call now for security: {who_html}<br/>")
    if view.security:
        note = "This is a security matter: never paste passwords, keys or seed phrases in chat."
        text.append(note)
        rich.append(f"🔒 {escape(note)}<br/>")
    for link in view.links:
        text.append(f"See: {link}")
        rich.append(f'See: <a href="{escape(link)}">{escape(link)}</a><br/>')
    if why:
        reason = why.split(";")[0]
        text.append(f"({reason})")
        rich.append(f"<em>({escape(reason)})</em><br/>")
    text.append(f"({_provenance(view, now)})")
    rich.append(f"<em>({escape(_provenance(view, now))})</em>")
    return Reply("\n".join(text), "".join(rich))


def ambiguous(thing: str, result: SearchResult, prefix: str) -> Reply:
    """Several close candidates: say so, list the top three, name no owner."""
    names = [m.area.name for m in result.matches[:3]]
    text = [f"Several areas match {thing!r}; which one do you mean?"]
    text += [f"  {i}. {n}" for i, n in enumerate(names, 1)]
    text.append(f"Ask again with its name, e.g. {prefix}owner {names[0]}")
    rich = f"Several areas match <em>{escape(thing)}</em>; which one do you mean?<ol>"
    rich += "".join(f"<li>{escape(n)}</li>" for n in names)
    rich += (
        f"</ol>Ask again with its name, e.g. <code>{escape(prefix)}owner {escape(names[0])}</code>"
    )
    return Reply("\n".join(text), rich)


def fallback(thing: str, result: SearchResult, contact: str, prefix: str) -> Reply:
    """No confident match: no owner named, route to the fallback contact and !ticket."""
    text = (
        f"The responsibilities map has no owner for {thing!r}. "
        f"Please ask {contact}, or open a private ticket with {prefix}ticket."
    )
    rich = (
        f"The responsibilities map has no owner for <em>{escape(thing)}</em>. "
        f"Please ask {escape(contact)}, or open a private ticket with "
        f"<code>{escape(prefix)}ticket</code>."
    )
    if result.near_misses:
        names = ", ".join(m.area.name for m in result.near_misses)
        text += f"\n(If you meant one of these, ask {prefix}owner <name>: {names})"
        rich += f"<br/><em>(If you meant one of these, ask by name: {escape(names)})</em>"
    return Reply(text, rich)


def area_list(views: list[AreaView], title: str, page: int, pages: int, footer: str) -> Reply:
    text = [f"{title} (page {page}/{pages}):"]
    rich = [f"<p><strong>{escape(title)}</strong> (page {page}/{pages})</p><ul>"]
    for v in views:
        owners, owners_html = _people(v.owners)
        team = f" [{v.team}]" if v.team else ""
        text.append(f"• {v.name}{team} — {owners}")
        rich.append(f"<li>{escape(v.name)}{escape(team)} — {owners_html}</li>")
    rich.append("</ul>")
    if footer:
        text.append(footer)
        rich.append(f"<p>{escape(footer)}</p>")
    return Reply("\n".join(text), "".join(rich))


def gap_list(gaps: list[Gap], changes: list | None = None, prefix: str = "!") -> Reply:
    """Areas that need attention, then owners' answers waiting for the team."""
    changes = changes or []
    if not gaps and not changes:
        return Reply("No gaps: every area has an owner, a backup and a recent verification.")
    text = [f"{len(gaps)} area(s) need attention:"]
    rich = [f"<p>{len(gaps)} area(s) need attention:</p><ul>"]
    for g in gaps:
        text.append(f"• {g.area.name}: {', '.join(g.problems)}")
        rich.append(f"<li>{escape(g.area.name)}: {escape(', '.join(g.problems))}</li>")
    rich.append("</ul>")
    if changes:
        text.append(f"{len(changes)} proposed change(s) from owners' answers:")
        rich.append(f"<p>{len(changes)} proposed change(s) from owners' answers:</p><ul>")
        for c in changes:
            new = c.proposed_owner or "nobody named"
            line = (
                f"#{c.id} {c.area_name}: {c.owner} answered no; proposed owner: {new} "
                f"→ {prefix}owners accept {c.id}"
            )
            text.append(f"• {line}")
            rich.append(f"<li>{escape(line)}</li>")
        rich.append("</ul>")
    return Reply("\n".join(text), "".join(rich))
