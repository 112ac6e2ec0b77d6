"""Request dependencies: the database, the settings and the authenticated actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ovenai import auth, signin
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.errors import AuthenticationFailed
from ovenai.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An API token from `ovenai tokens create`")


def get_db(request: Request) -> Database:
    """The process's database handle."""
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    """The validated settings."""
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: Request) -> str:
    """The caller's address; a proxy may set it only when in OVENAI_TRUSTED_PROXIES."""
    return request.client.host if request.client else "unknown"


async def get_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The user behind the bearer token; 401 without a valid one, 429 after many failures."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed("a bearer token is required")
    db, address = get_db(request), client_address(request)
    try:
        return await auth.authenticate_token(db, token=credentials.credentials)
    except AuthenticationFailed:
        # A 256-bit token cannot be guessed, so a valid one never pays for throttling;
        # an address that keeps failing is answered 429 instead of probing further (the
        # failure is counted and checked in one step, so a burst cannot slip past).
        await signin.count_token_failure(db, address=address)
        raise


async def authenticate(request: Request) -> Actor:
    """:func:`get_actor` outside dependency injection (the error handlers)."""
    return await get_actor(request, await _bearer(request))


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ActorDep = Annotated[Actor, Depends(get_actor)]
