"""Dashboard pages for accounts: a user's own language, sessions and password (/account),
and for admins every user (/admin/users) with disable, enable, unlock, password reset and
"sign out everywhere". Errors and notices are said in the page's language
(:mod:`ovenai.web.i18n`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ovenai import accounts
from ovenai.errors import NotFound, OvenAIError
from ovenai.models import Language, Role
from ovenai.web import i18n
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.session import CurrentSession, check_csrf
from ovenai.web.deps import DbDep

router = APIRouter(include_in_schema=False)
CsrfField = Annotated[str | None, Form()]
PasswordField = Annotated[str, Form(max_length=1024)]


def _admin_only(current: CurrentSession) -> None:
    if not current.actor.is_admin:  # the pages' existence is not revealed to agents
        raise NotFound("no such page")


async def _account_page(
    request: Request,
    db: DbDep,
    current: CurrentSession,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    actor = current.actor
    assert actor.user_id is not None  # a dashboard session always has a user
    found = await accounts.sessions_of(db, actor=actor, user_id=actor.user_id)
    return page(
        request,
        "account.html",
        status=status,
        actor=actor,
        sessions=found,
        current_id=current.session_id,
        error=error,
        notice=notice,
    )


@router.get("/account")
async def account(request: Request, db: DbDep, current: CurrentSession) -> HTMLResponse:
    """The signed-in user's language, sessions and password form."""
    return await _account_page(request, db, current)


@router.post("/account/language")
async def change_language(
    request: Request,
    db: DbDep,
    current: CurrentSession,
    language: Annotated[Language, Form()],
    csrf: CsrfField = None,
) -> Response:
    """Choose the dashboard's language; this browser's cookie follows, for the sign-in page."""
    check_csrf(request, csrf)
    actor = current.actor
    assert actor.user_id is not None
    await accounts.set_language(db, actor=actor, user_id=actor.user_id, language=language)
    response = RedirectResponse("/account", status_code=303)
    i18n.remember(request, response, language)
    return response


@router.post("/account/password")
async def change_password(
    request: Request,
    db: DbDep,
    current: CurrentSession,
    current_password: PasswordField,
    new_password: PasswordField,
    csrf: CsrfField = None,
) -> Response:
    """Change one's password; every other session ends."""
    check_csrf(request, csrf)
    try:
        ended = await accounts.change_password(
            db,
            actor=current.actor,
            current=current_password,
            new=new_password,
            keep_session=current.session_id,
        )
    except OvenAIError as exc:
        error = i18n.translator(request).error_text(exc)
        return await _account_page(request, db, current, status=exc.http_status, error=error)
    notice = i18n.translator(request).ngettext(
        "The password was changed; %(num)d other session was ended.",
        "The password was changed; %(num)d other sessions were ended.",
        ended,
    )
    return await _account_page(request, db, current, notice=notice)


@router.post("/account/sessions/{session_id}/end")
async def end_own_session(
    request: Request, session_id: str, db: DbDep, current: CurrentSession, csrf: CsrfField = None
) -> Response:
    """End one of one's own sessions (another browser)."""
    check_csrf(request, csrf)
    await accounts.end_session(db, actor=current.actor, session_id=session_id)
    return RedirectResponse("/account", status_code=303)


@router.post("/account/sign-out-others")
async def sign_out_others(
    request: Request, db: DbDep, current: CurrentSession, csrf: CsrfField = None
) -> Response:
    """End every session of one's own but this one."""
    check_csrf(request, csrf)
    actor = current.actor
    assert actor.user_id is not None
    await accounts.sign_out_everywhere(
        db, actor=actor, user_id=actor.user_id, keep_session=current.session_id
    )
    return RedirectResponse("/account", status_code=303)


async def _users_page(
    request: Request,
    db: DbDep,
    current: CurrentSession,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    _admin_only(current)
    found = await accounts.list_accounts(db, actor=current.actor)
    return page(
        request,
        "admin_users.html",
        status=status,
        actor=current.actor,
        users=found,
        roles=list(Role),
        error=error,
        notice=notice,
    )


@router.get("/admin/users")
async def users(request: Request, db: DbDep, current: CurrentSession) -> HTMLResponse:
    """Admins: every user with their state and what can be done to them."""
    return await _users_page(request, db, current)


@router.post("/admin/users")
async def create_user(
    request: Request,
    db: DbDep,
    current: CurrentSession,
    email: Annotated[str, Form(max_length=254)],
    password: PasswordField,
    role: Annotated[Role, Form()] = Role.AGENT,
    display_name: Annotated[str, Form(max_length=200)] = "",
    csrf: CsrfField = None,
) -> Response:
    """Admins: add a user who signs in with the given password."""
    _admin_only(current)
    check_csrf(request, csrf)
    try:
        created = await accounts.create(
            db,
            actor=current.actor,
            email=email,
            role=role,
            password=password,
            display_name=display_name,
        )
    except OvenAIError as exc:
        error = i18n.translator(request).error_text(exc)
        return await _users_page(request, db, current, status=exc.http_status, error=error)
    notice = i18n.translator(request).gettext("User %(email)s was added.", email=created.email)
    return await _users_page(request, db, current, notice=notice)


@router.get("/admin/users/{user_id}")
async def user_page(
    request: Request, user_id: str, db: DbDep, current: CurrentSession
) -> HTMLResponse:
    """Admins: one user's sessions, with the password reset form."""
    _admin_only(current)
    return await _user_page(request, db, current, user_id)


async def _user_page(
    request: Request,
    db: DbDep,
    current: CurrentSession,
    user_id: str,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    actor = current.actor
    found = await accounts.get_account(db, actor=actor, user_id=user_id)
    live = await accounts.sessions_of(db, actor=actor, user_id=user_id)
    return page(
        request,
        "admin_user.html",
        status=status,
        actor=actor,
        user=found,
        sessions=live,
        error=error,
        notice=notice,
    )


@router.post("/admin/users/{user_id}/password")
async def reset_password(
    request: Request,
    user_id: str,
    db: DbDep,
    current: CurrentSession,
    password: PasswordField,
    csrf: CsrfField = None,
) -> Response:
    """Admins: set a user's password; their sessions end and their lock lifts."""
    _admin_only(current)
    check_csrf(request, csrf)
    try:
        ended = await accounts.reset_password(
            db, actor=current.actor, user_id=user_id, password=password
        )
    except OvenAIError as exc:
        error = i18n.translator(request).error_text(exc)
        return await _user_page(request, db, current, user_id, status=exc.http_status, error=error)
    notice = i18n.translator(request).ngettext(
        "The password was set; %(num)d session was ended.",
        "The password was set; %(num)d sessions were ended.",
        ended,
    )
    return await _user_page(request, db, current, user_id, notice=notice)


_ACTIONS = {"disable", "enable", "unlock", "sign-out"}


@router.post("/admin/users/{user_id}/{action}")
async def user_action(
    request: Request,
    user_id: str,
    action: str,
    db: DbDep,
    current: CurrentSession,
    csrf: CsrfField = None,
) -> Response:
    """Admins: disable, enable, unlock or sign out everywhere one user."""
    _admin_only(current)
    if action not in _ACTIONS:
        raise NotFound("no such page")
    check_csrf(request, csrf)
    actor = current.actor
    try:
        if action in ("disable", "enable"):
            await accounts.set_active(db, actor=actor, user_id=user_id, active=action == "enable")
        elif action == "unlock":
            await accounts.unlock(db, actor=actor, user_id=user_id)
        else:
            await accounts.sign_out_everywhere(db, actor=actor, user_id=user_id)
    except OvenAIError as exc:
        error = i18n.translator(request).error_text(exc)
        return await _users_page(request, db, current, status=exc.http_status, error=error)
    return RedirectResponse(f"/admin/users/{user_id}", status_code=303)
