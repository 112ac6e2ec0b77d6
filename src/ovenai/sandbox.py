"""Sandbox mode: what `make run` prepares so the whole product works with no Meta account."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import func, select

from ovenai import auth, templates
from ovenai.db import Database
from ovenai.models import Role, User

DEMO_ADMIN_EMAIL = "admin@ovenai.local"


@dataclass(frozen=True)
class DemoLogin:
    """The demo admin's credentials, printed once when first created."""

    email: str
    password: str
    token: str


async def ensure_demo_admin(db: Database) -> DemoLogin | None:
    """Create a demo admin and token on an empty database; None when users exist."""
    async with db.session() as session:
        users = await session.scalar(select(func.count()).select_from(User))
    if users:
        return None
    password = secrets.token_urlsafe(12)
    await auth.create_user(
        db, email=DEMO_ADMIN_EMAIL, role=Role.ADMIN, password=password, display_name="Demo admin"
    )
    issued = await auth.create_token(db, email=DEMO_ADMIN_EMAIL, name="sandbox")
    return DemoLogin(email=DEMO_ADMIN_EMAIL, password=password, token=issued.token)


async def ensure_seed_templates(db: Database, *, waba_id: str) -> int:
    """Load the eight seed templates for the simulator's WABA; returns how many were new."""
    async with db.session() as session:
        added = await templates.load_seed(session, waba_id=waba_id)
        await session.commit()
    return added
