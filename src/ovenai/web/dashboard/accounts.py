"""Dashboard pages for accounts: a user's own sessions and password (/account), and for
admins every user (/admin/users) with disable, enable, unlock, password reset and
"sign out everywhere"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ovenai import accounts
from ovenai.errors import NotFound, OvenAIError
from ovenai.models import Role
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.session import CurrentSession, check_csrf
from ovenai.web.deps import DbDep, SettingsDep

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
    settings: SettingsDep,
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
        zone=settings.zone,
        error=error,
        notice=notice,
    )


@router.get("/account")
async def account(
    request: Request, db: DbDep, current: CurrentSession, settings: SettingsDep
) -> HTMLResponse:
    """The signed-in user's sessions and password form."""
    return await _account_page(request, db, current, settings)


@router.post("/account/password")
async def change_password(
    request: Request,
    db: DbDep,
    current: CurrentSession,
    settings: SettingsDep,
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
        return await _account_page(
            request, db, current, settings, status=exc.http_status, error=exc.message
        )
    notice = f"הסיסמה הוחלפה; {ended} חיבורים אחרים נותקו"
    return await _account_page(request, db, current, settings, notice=notice)


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
        return await _users_page(request, db, current, status=exc.http_status, error=exc.message)
    return await _users_page(request, db, current, notice=f"נוסף משתמש {created.email}")


@router.get("/admin/users/{user_id}")
async def user_page(
    request: Request, user_id: str, db: DbDep, current: CurrentSession, settings: SettingsDep
) -> HTMLResponse:
    """Admins: one user's sessions, with the password reset form."""
    _admin_only(current)
    return await _user_page(request, db, current, settings, user_id)


async def _user_page(
    request: Request,
    db: DbDep,
    current: CurrentSession,
    settings: SettingsDep,
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
        zone=settings.zone,
        error=error,
        notice=notice,
    )


@router.post("/admin/users/{user_id}/password")
async def reset_password(
    request: Request,
    user_id: str,
    db: DbDep,
    current: CurrentSession,
    settings: SettingsDep,
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
        return await _user_page(
            request, db, current, settings, user_id, status=exc.http_status, error=exc.message
        )
    notice = f"הסיסמה נקבעה; {ended} חיבורים נותקו"
    return await _user_page(request, db, current, settings, user_id, notice=notice)


_ACTIONS = {"disable", "enable", "unlock", "sign-out"}


@router.post("/admin/users/{user_id}/{action}")
async def user_action(
    request: Request,
    user_id: str,
    action: str,
    db: DbDep,
    current: CurrentSession,
    settings: SettingsDep,
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
        return await _users_page(request, db, current, status=exc.http_status, error=exc.message)
    return RedirectResponse(f"/admin/users/{user_id}", status_code=303)
