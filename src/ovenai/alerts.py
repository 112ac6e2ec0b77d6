"""Alerts: things an owner must know, recorded once while they stay open.

Other modules call :func:`raise_alert` inside their own transaction; the monitoring work
(e-mail, Slack, dashboard) reads the open alerts. An alert of a kind that is already open
is not repeated, so a burst of identical failures makes one alert, not thousands. The rules
evaluated every 30 s live in :mod:`ovenai.alert_rules`, the notifiers in
:mod:`ovenai.notifiers`; admins list and acknowledge alerts here (API, CLI, dashboard).
Acknowledging records who has seen an alert; it stays open (and repeats) until its cause ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import NotFound, PermissionDenied
from ovenai.metrics import ALERTS_RAISED
from ovenai.models import Alert

log = logging.getLogger("ovenai.alerts")
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Said:
    """An alert's message in English and in Hebrew (figures only, never personal data)."""

    en: str
    he: str


async def raise_alert(session: AsyncSession, *, kind: str, severity: str, said: Said) -> Alert:
    """Open an alert of this kind (or return the one already open); never personal data."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    query = select(Alert).where(Alert.kind == kind, Alert.resolved_at.is_(None))
    existing = await session.scalar(query)
    if existing is not None:
        return existing
    alert = Alert(kind=kind, severity=severity, message=said.en, message_he=said.he)
    session.add(alert)
    ALERTS_RAISED.labels(kind=kind, severity=severity).inc()
    log.warning("alert %s (%s): %s", kind, severity, said.en)
    return alert


async def resolve_alerts(session: AsyncSession, *, kind: str) -> int:
    """Close every open alert of a kind; returns how many were open."""
    query = select(Alert).where(Alert.kind == kind, Alert.resolved_at.is_(None))
    alerts = list(await session.scalars(query))
    for alert in alerts:
        alert.resolved_at = utcnow()
    return len(alerts)


async def open_alerts(session: AsyncSession) -> list[Alert]:
    """Every alert not yet resolved, newest first."""
    query = select(Alert).where(Alert.resolved_at.is_(None)).order_by(Alert.at.desc())
    return list(await session.scalars(query))


@dataclass(frozen=True)
class AlertRecord:
    """An alert as admins see it."""

    id: str
    at: datetime
    kind: str
    severity: str
    message: str
    message_he: str | None
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    @property
    def open(self) -> bool:
        """Whether its cause lasts."""
        return self.resolved_at is None

    def message_in(self, language: str) -> str:
        """The message in ``language`` (he or en); the English when no Hebrew was written."""
        return self.message_he if language == "he" and self.message_he else self.message


def _record(alert: Alert) -> AlertRecord:
    return AlertRecord(
        id=alert.id,
        at=alert.at,
        kind=alert.kind,
        severity=alert.severity,
        message=alert.message,
        message_he=alert.message_he,
        resolved_at=alert.resolved_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
    )


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("only admins may see alerts")


async def list_alerts(
    db: Database, *, actor: Actor, open_only: bool = False, limit: int = 200
) -> list[AlertRecord]:
    """Alerts newest first (open ones only, or the history too); admins only."""
    _require_admin(actor)
    query = select(Alert).order_by(Alert.at.desc(), Alert.id.desc()).limit(limit)
    if open_only:
        query = query.where(Alert.resolved_at.is_(None))
    async with db.session() as session:
        return [_record(alert) for alert in await session.scalars(query)]


async def acknowledge(db: Database, *, actor: Actor, alert_id: str) -> AlertRecord:
    """Record that an admin has seen the alert (the first acknowledgement stays)."""
    _require_admin(actor)
    async with db.session() as session:
        alert = await session.get(Alert, alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id}")
        if alert.acknowledged_at is None:
            alert.acknowledged_at = utcnow()
            alert.acknowledged_by = actor.user_id
        record = _record(alert)
        await session.commit()
    return record


def open_critical() -> ScalarSelect[int]:
    """How many critical alerts are open, as a scalar subquery (the dashboard's banner, read
    with the session's look-up: :func:`ovenai.sessions.resolve`)."""
    query = select(func.count()).where(Alert.resolved_at.is_(None), Alert.severity == "critical")
    return query.scalar_subquery()
