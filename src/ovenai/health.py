"""Health: readiness as JSON, with real checks (``/health``; ``/health/live`` is liveness).

Each check has a state, its figure and its threshold. ``down``: the product cannot serve
(the database or the key store is unreachable; 503). ``degraded``: it serves but something
needs a person (sending paused, the outbox not moving, no worker running, Meta's Graph API
unreachable or refusing the token in the workers' last check, retention late, the key past
its rotation period, no webhook for a day). The figures are the alert rules' own measures
(:mod:`ovenai.alert_rules`), read here on each probe: one indexed query each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError

from ovenai import alert_rules, graph_check, heartbeats, key_rotation, webhook_probe
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import OvenAIError
from ovenai.settings import Settings

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


WEBHOOK_SILENCE_H = 24  # a day without any webhook is worth a look; a quiet night is not
DEFAULT_OUTBOX_STUCK_MIN = 15  # OVENAI_ALERT_OUTBOX_STUCK_MINUTES when no settings are given


def _age_s(now: datetime, since: datetime | None) -> float | None:
    return None if since is None else round((now - since).total_seconds(), 1)


async def check_operations(db: Database, health: Health, settings: Settings | None) -> None:
    """The outbox's oldest due message, the last webhook, the pause, the last retention run."""
    now = utcnow()
    stuck_min = settings.alert_outbox_stuck_minutes if settings else DEFAULT_OUTBOX_STUCK_MIN
    try:
        async with db.session() as session:
            oldest = await alert_rules.oldest_due_at(session, now)
            last_webhook = await alert_rules.last_webhook_at(session)
            paused = await alert_rules.sending_paused(session)
            retention = await alert_rules.last_retention_run(session)
            workers = await heartbeats.alive(session, now)
            newest_beat = await heartbeats.newest_beat(session)
            graph = await graph_check.newest(session)
            probe_sent, probe_seen = await webhook_probe.newest(session)
    except (OvenAIError, SQLAlchemyError):
        return  # the database check has said it is down
    age = _age_s(now, oldest)
    late = age is not None and age > stuck_min * 60
    health.add(
        "outbox",
        "degraded" if late else "ok",
        oldest_due_age_s=age,
        threshold_s=stuck_min * 60,
    )
    silence = _age_s(now, last_webhook)
    quiet = silence is not None and silence > WEBHOOK_SILENCE_H * 3600
    health.add(
        "webhooks",
        "degraded" if quiet else "ok",
        last_received_age_s=silence,
        threshold_s=WEBHOOK_SILENCE_H * 3600,
    )
    _add_probe(health, now, settings, probe_sent, probe_seen)
    health.add("sending", "degraded" if paused else "ok", paused=paused, threshold="not paused")
    health.add(
        "workers",
        "ok" if workers else "degraded",
        running=len(workers),
        last_heartbeat_age_s=_age_s(now, newest_beat),
        threshold_s=heartbeats.STALE_AFTER_S,
    )
    _add_graph(health, now, graph)
    since = _age_s(now, retention)
    overdue = (
        since is not None and since > timedelta(hours=alert_rules.RETENTION_LATE_H).total_seconds()
    )
    health.add(
        "retention",
        "degraded" if overdue else "ok",
        last_run_age_s=since,
        threshold_s=alert_rules.RETENTION_LATE_H * 3600,
    )


def _add_probe(
    health: Health,
    now: datetime,
    settings: Settings | None,
    sent: webhook_probe.Sent | None,
    seen: webhook_probe.Seen | None,
) -> None:
    """The newest signed test body through the public webhook URL (webhook_probe.py)."""
    if settings is None or not webhook_probe.configured(settings):
        health.add("webhook_probe", "ok", configured=False)
        return
    problem = webhook_probe.problem(sent, seen, now)
    health.add(
        "webhook_probe",
        "degraded" if problem else "ok",
        configured=True,
        last_sent_age_s=_age_s(now, sent.sent_at if sent else None),
        last_applied_age_s=_age_s(now, seen.seen_at if seen else None),
        threshold_s=webhook_probe.GRACE_S,
        **({"warning": problem.en} if problem else {}),
    )


def _add_graph(health: Health, now: datetime, graph: graph_check.GraphCheck | None) -> None:
    """The workers' newest Graph API check: failed, or none lately, is degraded."""
    if graph is None:
        health.add("graph_api", "degraded", checked=False, warning="no worker has checked yet")
        return
    age = _age_s(now, graph.checked_at)
    stale = age is not None and age > graph_check.STALE_AFTER_S
    details: dict[str, object] = {
        "checked_age_s": age,
        "latency_ms": graph.latency_ms,
        "token_valid": not graph.token_rejected,
        "threshold_s": graph_check.STALE_AFTER_S,
    }
    if not graph.ok:
        details |= {"code": graph.code, "kind": graph.kind}
    health.add("graph_api", "ok" if graph.ok and not stale else "degraded", **details)


async def check(db: Database, settings: Settings | None = None) -> Health:
    """Run every check."""
    health = Health()
    await check_database(db, health)
    await check_keys(db, health)
    if health.status != "down":
        await check_operations(db, health, settings)
    return health
