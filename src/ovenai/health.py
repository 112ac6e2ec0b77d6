"""Health: liveness and readiness as JSON, with real checks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError

from ovenai import key_rotation
from ovenai.db import Database
from ovenai.errors import OvenAIError

Status = Literal["ok", "degraded", "down"]


@dataclass
class Health:
    """The overall status and each check's result."""

    status: Status = "ok"
    checks: dict[str, dict[str, object]] = field(default_factory=dict)

    def add(self, name: str, status: Status, **details: object) -> None:
        """Record a check; the worst check decides the overall status."""
        self.checks[name] = {"status": status, **details}
        order = {"ok": 0, "degraded": 1, "down": 2}
        if order[status] > order[self.status]:
            self.status = status


async def check_database(db: Database, health: Health) -> None:
    """Time a trivial query; the product is down without its database."""
    started = time.perf_counter()
    try:
        await db.ping()
    except OvenAIError as exc:
        health.add("database", "down", error=exc.message)
        return
    elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
    health.add("database", "ok", dialect=db.dialect, latency_ms=elapsed_ms)


async def check_keys(db: Database, health: Health) -> None:
    """Warn when the newest master key is older than the 90-day rotation period."""
    try:
        age = await key_rotation.newest_key_age_days(db)
    except (OvenAIError, SQLAlchemyError):
        health.add("encryption_keys", "down", error="the key store cannot be read")
        return
    if age is not None and age > key_rotation.ROTATION_PERIOD_DAYS:
        health.add(
            "encryption_keys",
            "degraded",
            newest_key_age_days=age,
            warning="rotate the master key: `ovenai keys generate`, then `ovenai keys rotate`",
        )
        return
    health.add("encryption_keys", "ok", newest_key_age_days=age)


async def check(db: Database) -> Health:
    """Run every check."""
    health = Health()
    await check_database(db, health)
    await check_keys(db, health)
    return health
