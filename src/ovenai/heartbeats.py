"""Workers' heartbeats: which workers are running, seen from any process.

Every running worker (``ovenai worker``, or the one sandbox ``serve`` runs in-process)
writes its heartbeat every :data:`BEAT_EVERY_S` to ``system_flags`` (``worker:<id>``, the
value the moment it started). ``/health`` reads them: without a heartbeat newer than
:data:`STALE_AFTER_S`, no worker is running, so nothing is sent and no timed job runs, and
readiness says ``degraded``. A worker that stops says so by deleting its row; one that was
killed leaves a row that goes stale, and rows older than a day are pruned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import OvenAIError
from ovenai.models import SystemFlag

log = logging.getLogger("ovenai.heartbeats")

BEAT_EVERY_S = 15.0
STALE_AFTER_S = 60.0  # four missed beats: the worker is gone (or its loop is stuck)
FORGET_AFTER = timedelta(days=1)
PREFIX = "worker:"


@dataclass(frozen=True)
class Heartbeat:
    """One worker's newest heartbeat."""

    worker_id: str
    started_at: datetime
    beat_at: datetime


async def beat(db: Database, worker_id: str, started_at: datetime) -> None:
    """Write the worker's heartbeat now."""
    now = utcnow()
    async with db.session() as session:
        statement = dialects.insert(session, SystemFlag).values(
            name=f"{PREFIX}{worker_id}"[:64], value=started_at.isoformat(), updated_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=[SystemFlag.name], set_={"updated_at": now}
        )
        await session.execute(statement)
        await session.commit()


async def forget(db: Database, worker_id: str) -> None:
    """Remove a stopping worker's heartbeat."""
    async with db.session() as session:
        await session.execute(delete(SystemFlag).where(SystemFlag.name == f"{PREFIX}{worker_id}"))
        await session.commit()


async def alive(session: AsyncSession, now: datetime) -> list[Heartbeat]:
    """The workers whose heartbeat is fresh, newest first."""
    fresh = now - timedelta(seconds=STALE_AFTER_S)
    query = (
        select(SystemFlag)
        .where(SystemFlag.name.startswith(PREFIX), SystemFlag.updated_at >= fresh)
        .order_by(SystemFlag.updated_at.desc())
    )
    return [
        Heartbeat(
            worker_id=row.name.removeprefix(PREFIX),
            started_at=datetime.fromisoformat(row.value),
            beat_at=row.updated_at,
        )
        for row in await session.scalars(query)
    ]


async def newest_beat(session: AsyncSession) -> datetime | None:
    """When any worker last beat (None: no worker has run, or all were pruned)."""
    query = (
        select(SystemFlag.updated_at)
        .where(SystemFlag.name.startswith(PREFIX))
        .order_by(SystemFlag.updated_at.desc())
        .limit(1)
    )
    newest: datetime | None = await session.scalar(query)
    return newest


async def prune(session: AsyncSession, now: datetime) -> None:
    """Drop the heartbeats of workers gone for a day (the caller commits)."""
    old = SystemFlag.name.startswith(PREFIX) & (SystemFlag.updated_at < now - FORGET_AFTER)
    await session.execute(delete(SystemFlag).where(old))


async def keep_beating(db: Database, worker_id: str, stop: asyncio.Event) -> None:
    """Beat every BEAT_EVERY_S until ``stop`` is set, then remove the heartbeat.

    A failed write (the database away for a moment) is logged and tried again at the next
    beat: the heartbeat going stale is then the truth.
    """
    started_at = utcnow()
    try:
        while not stop.is_set():
            try:
                await beat(db, worker_id, started_at)
            except (OvenAIError, SQLAlchemyError) as exc:
                log.warning("worker %s could not write its heartbeat: %s", worker_id, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), BEAT_EVERY_S)
    finally:
        with contextlib.suppress(OvenAIError, SQLAlchemyError):
            await forget(db, worker_id)
