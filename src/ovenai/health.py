"""Health: liveness and readiness as JSON, with real checks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

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


async def check(db: Database) -> Health:
    """Run every check."""
    health = Health()
    await check_database(db, health)
    return health
