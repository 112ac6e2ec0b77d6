"""Sandbox mode: what `make run` prepares so the whole product works with no Meta account."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass

from sqlalchemy import func, select

from ovenai import auth, templates
from ovenai.db import Database
from ovenai.models import Role, User

DEMO_ADMIN_EMAIL = "admin@ovenai.local"
SIMULATOR_PROBE_PATH = "/_sim/config"


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


def simulator_answers(base_url: str, *, timeout: float = 2.0) -> bool:
    """Whether the sandbox's simulator answers at ``base_url`` (its control API's config)."""
    try:
        with urllib.request.urlopen(base_url + SIMULATOR_PROBE_PATH, timeout=timeout) as answer:
            return int(answer.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False
