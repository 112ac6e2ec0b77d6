"""/api/v1/users and /api/v1/sessions: accounts (admins) and sessions (their user or admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, Field

from ovenai import accounts
from ovenai.models import Role
from ovenai.web.api.schemas import (
    AccountPublic,
    PublicModel,
    SessionPublic,
    answer,
    list_model,
)
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(tags=["users"])


class UserCreate(BaseModel):
    """A new user who signs in to the dashboard."""

    email: str = Field(max_length=254)
    role: Role = Role.AGENT
    password: str = Field(max_length=1024)
    display_name: str = Field(default="", max_length=200)


class Ended(BaseModel):
    """How many sessions an action ended."""

    sessions_ended: int


class Unlocked(BaseModel):
    """How many sign-in counts an unlock cleared."""

    counts_cleared: int


Password = Annotated[str, Body(embed=True, max_length=1024)]


@router.get("/users", response_model=list_model(AccountPublic))
async def list_users(db: DbDep, actor: ActorDep, settings: SettingsDep) -> list[PublicModel]:
    """Every user, admins first (admins only)."""
    found = await accounts.list_accounts(db, actor=actor)
    return [answer(AccountPublic, account, settings.zone) for account in found]


@router.post("/users", response_model=AccountPublic, status_code=201)
async def create_user(
    data: UserCreate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Add a user (admins only); 422 for a password the policy refuses, 409 for a taken e-mail."""
    created = await accounts.create(
        db,
        actor=actor,
        email=data.email,
        role=data.role,
        password=data.password,
        display_name=data.display_name,
    )
    return answer(AccountPublic, created, settings.zone)


@router.get("/users/{user_id}", response_model=AccountPublic)
async def get_user(user_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep) -> PublicModel:
    """One user: admins read anyone, a user themselves."""
    found = await accounts.get_account(db, actor=actor, user_id=user_id)
    return answer(AccountPublic, found, settings.zone)


@router.post("/users/{user_id}/disable", response_model=AccountPublic)
async def disable_user(
    user_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Disable a user: their sessions end and their API tokens stop (admins only)."""
    found = await accounts.set_active(db, actor=actor, user_id=user_id, active=False)
    return answer(AccountPublic, found, settings.zone)


@router.post("/users/{user_id}/enable", response_model=AccountPublic)
async def enable_user(
    user_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Enable a disabled user again (admins only)."""
    found = await accounts.set_active(db, actor=actor, user_id=user_id, active=True)
    return answer(AccountPublic, found, settings.zone)


@router.post("/users/{user_id}/password")
async def reset_password(user_id: str, password: Password, db: DbDep, actor: ActorDep) -> Ended:
    """Set a user's password: their sessions end and their lock lifts (admins only)."""
    ended = await accounts.reset_password(db, actor=actor, user_id=user_id, password=password)
    return Ended(sessions_ended=ended)


@router.post("/users/{user_id}/unlock")
async def unlock_user(user_id: str, db: DbDep, actor: ActorDep) -> Unlocked:
    """Lift a user's sign-in lock, from every address (admins only)."""
    return Unlocked(counts_cleared=await accounts.unlock(db, actor=actor, user_id=user_id))


@router.post("/users/{user_id}/sign-out")
async def sign_out_user(user_id: str, db: DbDep, actor: ActorDep) -> Ended:
    """End every dashboard session of a user (admins; a user their own)."""
    ended = await accounts.sign_out_everywhere(db, actor=actor, user_id=user_id)
    return Ended(sessions_ended=ended)


@router.get("/users/{user_id}/sessions", response_model=list_model(SessionPublic))
async def list_sessions(
    user_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> list[PublicModel]:
    """A user's live dashboard sessions (admins; a user their own)."""
    found = await accounts.sessions_of(db, actor=actor, user_id=user_id)
    return [answer(SessionPublic, item, settings.zone) for item in found]


@router.delete("/sessions/{session_id}", status_code=204)
async def end_session(session_id: str, db: DbDep, actor: ActorDep) -> Response:
    """End one dashboard session (one's own, or anyone's for an admin)."""
    await accounts.end_session(db, actor=actor, session_id=session_id)
    return Response(status_code=204)
