"""Sign-in with Matrix: one-time links sent by DM, sessions, CSRF tokens.

Tokens are 32 random bytes (URL-safe); the database keeps only their SHA-256, so a copy of
the database opens nothing. A link lasts :data:`LINK_TTL` and works once; a session lasts
``web.session_ttl`` and ends early on ``!dashboard logout``. Whether the person may still
use a session is decided on every request by the caller (team membership can change).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.models import WebLoginLink, WebSession

LINK_TTL = timedelta(minutes=10)
SCOPES = ("team", "handbook")


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: derived from its secret, useless without the cookie."""
    return hmac.new(session_token.encode(), b"csrf", hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, given: str | None) -> bool:
    """Whether ``given`` is this session's CSRF token (constant-time)."""
    return given is not None and hmac.compare_digest(csrf_token(session_token), given)


class RateLimited(Exception):
    """Too many sign-in links asked for recently."""


async def issue_link(
    session: AsyncSession, *, user_id: str, scope: str, now: datetime, per_10_minutes: int
) -> str:
    """Store a new link for ``user_id`` and return its token (to put in the URL)."""
    if scope not in SCOPES:
        raise ValueError(scope)
    await prune(session, now=now)
    recent = await session.scalar(
        select(func.count())
        .select_from(WebLoginLink)
        .where(WebLoginLink.user_id == user_id, WebLoginLink.created_at > now - LINK_TTL)
    )
    if (recent or 0) >= per_10_minutes:
        raise RateLimited
    token = secrets.token_urlsafe(32)
    session.add(
        WebLoginLink(
            token_hash=token_hash(token),
            user_id=user_id,
            scope=scope,
            created_at=now,
            expires_at=now + LINK_TTL,
        )
    )
    await session.flush()
    return token


async def prune(session: AsyncSession, *, now: datetime) -> None:
    """Forget links and sessions that ended more than a day ago (the rate limit needs 10m)."""
    cutoff = now - timedelta(days=1)
    await session.execute(delete(WebLoginLink).where(WebLoginLink.expires_at < cutoff))
    await session.execute(delete(WebSession).where(WebSession.expires_at < cutoff))


@dataclass(frozen=True)
class Identity:
    user_id: str
    scope: str


async def consume_link(session: AsyncSession, token: str, *, now: datetime) -> Identity | None:
    """Use the link once: its identity, or None when unknown, expired or used before.

    The update is conditional on ``used_at IS NULL``, so two concurrent uses cannot both win.
    """
    digest = token_hash(token)
    result = await session.execute(
        update(WebLoginLink)
        .where(
            WebLoginLink.token_hash == digest,
            WebLoginLink.used_at.is_(None),
            WebLoginLink.expires_at > now,
        )
        .values(used_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    link = await session.get(WebLoginLink, digest)
    assert link is not None
    return Identity(link.user_id, link.scope)


async def open_session(
    session: AsyncSession, identity: Identity, *, now: datetime, ttl: timedelta
) -> str:
    """A new session for ``identity``; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=token_hash(token),
            user_id=identity.user_id,
            scope=identity.scope,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return token


async def session_identity(session: AsyncSession, token: str, *, now: datetime) -> Identity | None:
    """Who holds the session ``token``, if it is still valid."""
    row = await session.get(WebSession, token_hash(token))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return Identity(row.user_id, row.scope)


async def revoke_sessions(session: AsyncSession, *, user_id: str, now: datetime) -> int:
    """End every open session of ``user_id``; returns how many."""
    result = await session.execute(
        update(WebSession)
        .where(
            WebSession.user_id == user_id,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def revoke_token(session: AsyncSession, token: str, *, now: datetime) -> None:
    """End one session (signing out in the browser)."""
    await session.execute(
        update(WebSession).where(WebSession.token_hash == token_hash(token)).values(revoked_at=now)
    )
