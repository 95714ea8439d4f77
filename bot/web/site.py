"""The web pages' plumbing: templates, security headers, sessions, CSRF, access log, sign-in.

Every response gets a strict Content-Security-Policy (no script at all), ``X-Frame-Options:
DENY`` and ``Cache-Control: no-store``. The access log names the route's pattern, never
the path as typed (a sign-in token is in it) nor the query (a handbook search is).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.commands.router import Router
from bot.matrix.render import to_plain
from bot.messaging import md
from bot.services import Services
from bot.web import auth

if TYPE_CHECKING:
    import jinja2

log = logging.getLogger("bot.web.access")
HERE = Path(__file__).parent
SESSION_COOKIE = "helpdesk_session"
LOGIN_COOKIE = "helpdesk_login"
MAX_BODY = 64 * 1024
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SERVICES = web.AppKey("services", Services)
ROUTER = web.AppKey("router", Router)
LOGIN_LIMIT = web.AppKey("login_limit", dict)


class Templates:
    """The page templates, loaded when the first page is served: a bot whose board
    nobody opens never imports jinja2."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._env: jinja2.Environment | None = None

    def render(self, name: str, context: dict[str, Any]) -> str:
        if self._env is None:
            import jinja2

            self._env = jinja2.Environment(
                loader=jinja2.FileSystemLoader(self.folder),
                autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
            )
        return self._env.get_template(name).render(context)


TEMPLATES = web.AppKey("templates", Templates)
VIEWER = web.RequestKey("viewer", object)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Viewer:
    """Who is looking: their id, whether they are on the team, their CSRF token."""

    user_id: str
    team: bool
    csrf: str
    token: str


def viewer(request: web.Request) -> Viewer | None:
    found = request.get(VIEWER)
    return found if isinstance(found, Viewer) else None


def services_of(request: web.Request) -> Services:
    return request.app[SERVICES]


def is_https(request: web.Request) -> bool:
    """Served over https: directly, or behind a proxy whose public URL is https."""
    url = services_of(request).settings.web.public_url or ""
    return request.secure or url.startswith("https://")


def render(request: web.Request, template: str, context: dict, status: int = 200) -> web.Response:
    """A page, with the viewer and the CSRF token in its context."""
    who = viewer(request)
    base = {"viewer": who, "csrf": who.csrf if who else ""}
    text = request.app[TEMPLATES].render(template, {**base, **context})
    return web.Response(text=text, status=status, content_type="text/html")


def message_page(request: web.Request, title: str, text: str, status: int) -> web.Response:
    return render(request, "message.html", {"title": title, "text": text}, status=status)


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer, and an access log line without secrets."""
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    route = request.match_info.route.resource
    pattern = route.canonical if route is not None else "-"
    if not response.headers.get("Content-Security-Policy"):
        response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if not pattern.startswith("/static"):
        response.headers["Cache-Control"] = "no-store"
    log.info(
        "%s %s %d %.0fms",
        request.method,
        pattern,
        response.status,
        (time.perf_counter() - started) * 1000,
    )
    if isinstance(response, web.HTTPException):
        raise response
    return response


def _may_keep(services: Services, identity: auth.Identity) -> bool:
    """Checked on every request: the team (or helpdesk room) as the bot knows it now."""
    if services.is_security_team(identity.user_id):
        return True
    if identity.scope != "handbook":
        return False
    room = services.rooms.helpdesk
    return bool(room) and identity.user_id in services.directory.joined_members(room)


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the session; refuse a form post without this session's CSRF token."""
    services = services_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with services.db.sessions() as session:
            identity = await auth.session_identity(session, token, now=services.clock())
        if identity is not None and _may_keep(services, identity):
            team = services.is_security_team(identity.user_id)
            request[VIEWER] = Viewer(identity.user_id, team, auth.csrf_token(token), token)
    if request.method == "POST" and not request.path.startswith("/login/"):
        form = await request.post()
        who = viewer(request)
        given = form.get("csrf")
        if who is None or not auth.csrf_ok(who.token, given if isinstance(given, str) else None):
            return message_page(
                request, "Refused", "This form has expired or did not come from this site.", 403
            )
    return await handler(request)


def _login_rate_ok(request: web.Request, limit: int = 30, window: float = 60.0) -> bool:
    """At most ``limit`` sign-in attempts a minute from one address."""
    seen: dict[str, deque[float]] = request.app[LOGIN_LIMIT]
    peer = request.remote or "-"
    now = time.monotonic()
    hits = seen.setdefault(peer, deque())
    while hits and hits[0] < now - window:
        hits.popleft()
    if len(hits) >= limit:
        return False
    hits.append(now)
    if len(seen) > 10_000:
        seen.clear()
    return True


async def login_form(request: web.Request) -> web.StreamResponse:
    """GET /login/{token}: a button, so a link preview cannot use up the link."""
    if not _login_rate_ok(request):
        return message_page(request, "Slow down", "Too many sign-in attempts.", 429)
    nonce = secrets.token_urlsafe(16)
    response = render(request, "login.html", {"login_csrf": nonce})
    response.set_cookie(
        LOGIN_COOKIE, nonce, max_age=600, httponly=True, samesite="Strict",
        secure=is_https(request), path="/login",
    )  # fmt: skip
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    """POST /login/{token}: use the link once and open a session."""
    services = services_of(request)
    if not _login_rate_ok(request):
        return message_page(request, "Slow down", "Too many sign-in attempts.", 429)
    form = await request.post()
    nonce = request.cookies.get(LOGIN_COOKIE)
    given = form.get("csrf")
    if not nonce or not isinstance(given, str) or not secrets.compare_digest(nonce, given):
        return message_page(
            request, "Refused", "This form has expired or did not come from this site.", 403
        )
    now = services.clock()
    async with services.db.sessions.begin() as session:
        identity = await auth.consume_link(session, request.match_info["token"], now=now)
        if identity is None:
            refused = (
                "This sign-in link is unknown, expired or already used. Ask the bot for a new one."
            )
        elif not _may_keep(services, identity):
            identity, refused = None, "This link's owner may not use these pages."
        else:
            ttl = services.settings.web.session_ttl
            token = await auth.open_session(session, identity, now=now, ttl=ttl)
    if identity is None:
        return message_page(request, "Sign-in refused", refused, 403)
    target = "/" if services.is_security_team(identity.user_id) else "/handbook"
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(services.settings.web.session_ttl.total_seconds()),
        httponly=True, samesite="Strict", secure=is_https(request), path="/",
    )  # fmt: skip
    response.del_cookie(LOGIN_COOKIE, path="/login")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout (with its CSRF token): end this browser's session."""
    who = viewer(request)
    if who is not None:
        services = services_of(request)
        async with services.db.sessions.begin() as session:
            await auth.revoke_token(session, who.token, now=services.clock())
    response = web.HTTPSeeOther("/signed-out")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def signed_out(request: web.Request) -> web.StreamResponse:
    return message_page(request, "Signed out", "You are signed out.", 200)


def setup_site(app: web.Application, services: Services, router: Router) -> None:
    """Add templates, middlewares, the static files and the sign-in routes to ``app``."""
    app[SERVICES] = services
    app[ROUTER] = router
    app[LOGIN_LIMIT] = {}
    app[TEMPLATES] = Templates(HERE / "templates")
    app.middlewares.extend([headers_middleware, session_middleware])
    app.router.add_static("/static", HERE / "static")
    app.router.add_get("/login/{token}", login_form)
    app.router.add_post("/login/{token}", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/signed-out", signed_out)


def plain_text(text: str, prefix: str) -> str:
    """A chat answer as a page shows it: Markdown rendered to plain text, prefix filled in."""
    return to_plain(md.with_prefix(text, prefix))
