"""Alerts: things an owner must know, recorded once while they stay open.

Other modules call :func:`raise_alert` inside their own transaction; the monitoring work
(e-mail, Slack, dashboard) reads the open alerts. An alert of a kind that is already open
is not repeated, so a burst of identical failures makes one alert, not thousands.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai.columns import utcnow
from ovenai.models import Alert

log = logging.getLogger("ovenai.alerts")
SEVERITIES = ("info", "warning", "critical")


async def raise_alert(session: AsyncSession, *, kind: str, severity: str, message: str) -> Alert:
    """Open an alert of this kind (or return the one already open); never personal data."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    query = select(Alert).where(Alert.kind == kind, Alert.resolved_at.is_(None))
    existing = await session.scalar(query)
    if existing is not None:
        return existing
    alert = Alert(kind=kind, severity=severity, message=message)
    session.add(alert)
    log.warning("alert %s (%s): %s", kind, severity, message)
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
