"""Dashboard sessions: signed HttpOnly SameSite cookies holding a server-side session's
secret (:mod:`ovenai.sessions`), CSRF tokens, the signed-in actor and their language, and
the device cookie that makes a browser "known" to sign-in throttling (:mod:`ovenai.signin`).

The pages' shared Jinja environment is made here too, with gettext and the language of each
request (:mod:`ovenai.web.i18n`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.responses import Response

from ovenai import sessions, signin
from ovenai.auth import Actor
from ovenai.errors import AuthenticationFailed, PermissionDenied
from ovenai.settings import Environment
from ovenai.web import i18n
from ovenai.web.deps import client_address, get_db, get_settings
from ovenai.web.i18n import N_

TEMPLATES = Jinja2Templates(
    directory=str(Path(__file__).resolve().parent.parent / "templates"),
    context_processors=[i18n.page_context],
)
i18n.install(TEMPLATES.env)
SESSION_COOKIE = "ovenai_session"
SESSION_SECONDS = int(sessions.LIFETIME.total_seconds())
DEVICE_COOKIE = "ovenai_device"
DEVICE_SECONDS = 365 * 24 * 3600
_SECRET = "sid"


class LoginRequired(AuthenticationFailed):
    """The page needs a signed-in user; the dashboard answers with a redirect to /login."""


class CsrfRejected(PermissionDenied):
    """A form arrived without the session's CSRF token."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use), for every form."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a form whose token does not match the session's (constant time)."""
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not submitted:
        raise CsrfRejected(N_("The form is missing its security token; reload the page."))
    if not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise CsrfRejected(N_("The form's security token does not match; reload the page."))


async def start_session(request: Request, actor: Actor) -> None:
    """Record a server-side session and bind the cookie to it, with a fresh CSRF token."""
    started = await sessions.start(
        get_db(request),
        actor=actor,
        address=client_address(request),
        user_agent=request.headers.get("user-agent", ""),
    )
    request.session.clear()  # no fixation: nothing of the anonymous session carries over
    request.session[_SECRET] = started.secret
    csrf_token(request)


async def end_session(request: Request) -> None:
    """End this browser's session on the server and forget the cookie's contents."""
    secret = request.session.get(_SECRET)
    if isinstance(secret, str):
        await sessions.end(get_db(request), secret=secret)
    request.session.clear()


async def current_session(request: Request, *, header: bool = False) -> sessions.Current:
    """The signed-in user and session of this request; LoginRequired otherwise.

    Records the user's language on the request, for its page (or its error page). Read
    once a request: the header (:func:`header_counts`) and the route share it; ``header``:
    read with the header's counts (when the header is the first to ask, as it is).
    """
    found: sessions.Current | None = getattr(request.state, "current_session", None)
    if found is not None:
        return found
    secret = request.session.get(_SECRET)
    if not isinstance(secret, str):
        raise LoginRequired("please sign in")
    current = await sessions.resolve(get_db(request), secret=secret, header=header)
    if current is None:
        request.session.clear()
        raise LoginRequired("please sign in")
    request.state.language = current.language
    request.state.current_session = current
    return current


async def header_counts(request: Request) -> None:
    """What every page's header shows beside the user (a dependency of every dashboard
    router but the header-less one): the unread notifications and, for an admin, the open
    critical alerts, read with the session in one statement (:func:`ovenai.sessions.resolve`).
    """
    if not request.session:  # the login page: no session, no header
        return
    try:
        current = await current_session(request, header=True)
    except LoginRequired:
        return
    if current.unread_notifications is not None:
        request.state.unread_notifications = current.unread_notifications
    if current.critical_alerts is not None:
        request.state.critical_alerts = current.critical_alerts


async def session_actor(
    current: Annotated[sessions.Current, Depends(current_session)],
) -> Actor:
    """The signed-in user of this request."""
    return current.actor


SessionActor = Annotated[Actor, Depends(session_actor)]
CurrentSession = Annotated[sessions.Current, Depends(current_session)]


def _devices(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(get_settings(request).secret("secret_key"), salt="known-browser")


def _email_mark(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


async def known_device(request: Request, email: str) -> str | None:
    """The browser's device id when its device cookie was issued for this e-mail and its
    current password (:func:`ovenai.signin.browser_mark`)."""
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie:
        return None
    try:
        value = _devices(request).loads(cookie)
    except BadSignature:
        return None
    if not isinstance(value, dict) or value.get("e") != _email_mark(email):
        return None
    device, mark = value.get("d"), value.get("k")
    if not isinstance(device, str) or not isinstance(mark, str):
        return None
    current = await signin.browser_mark(get_db(request), email=email)
    return device if current is not None and hmac.compare_digest(mark, current) else None


async def remember_device(request: Request, response: Response, actor: Actor) -> None:
    """After a correct sign-in: mark this browser as known for the user's e-mail and password."""
    device = await known_device(request, actor.email) or secrets.token_urlsafe(16)
    mark = await signin.browser_mark(get_db(request), email=actor.email)
    if mark is None:
        return
    response.set_cookie(
        DEVICE_COOKIE,
        _devices(request).dumps({"d": device, "e": _email_mark(actor.email), "k": mark}),
        max_age=DEVICE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=get_settings(request).environment is Environment.PRODUCTION,
    )
