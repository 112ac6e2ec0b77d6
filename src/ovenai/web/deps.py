"""Request dependencies: the database, the settings and the authenticated actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ovenai import auth
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


async def get_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The user behind the bearer token; 401 without a valid one."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed("a bearer token is required")
    return await auth.authenticate_token(get_db(request), token=credentials.credentials)


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ActorDep = Annotated[Actor, Depends(get_actor)]
