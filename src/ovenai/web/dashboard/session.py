"""Dashboard sessions: signed HttpOnly SameSite cookies, CSRF tokens, the signed-in actor."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from ovenai import signin
from ovenai.auth import Actor
from ovenai.errors import AuthenticationFailed, PermissionDenied
from ovenai.web.deps import get_db

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
SESSION_COOKIE = "ovenai_session"
SESSION_HOURS = 8


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
        raise CsrfRejected("the form is missing its security token; reload the page")
    if not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise CsrfRejected("the form's security token does not match; reload the page")


def start_session(request: Request, actor: Actor) -> None:
    """Bind the session to a user, with a fresh CSRF token (no fixation)."""
    request.session.clear()
    request.session["user_id"] = actor.user_id
    csrf_token(request)


async def session_actor(request: Request) -> Actor:
    """The signed-in user of this request; LoginRequired otherwise."""
    user_id = request.session.get("user_id")
    if not isinstance(user_id, str):
        raise LoginRequired("please sign in")
    actor = await signin.session_actor(get_db(request), user_id=user_id)
    if actor is None:
        request.session.clear()
        raise LoginRequired("please sign in")
    return actor


SessionActor = Annotated[Actor, Depends(session_actor)]
