"""Timed jobs of the worker (reminders, retention, template sync, alerts ...), run once each.

Other modules add jobs to the registry with :func:`every` or :func:`daily` (times in the
agency's zone, ``OVENAI_TIMEZONE``). Every worker runs an APScheduler that fires them, and a
fired job first takes its lease in ``job_locks`` with one conditional UPDATE: the lease is
free (or expired: its holder died) and the job has not run within ``min_gap_s``. Only the
worker whose UPDATE matched runs it, so several workers never run one job twice::

    @scheduler.daily("retention", hour=2)
    async def retention(ctx: scheduler.JobContext) -> None: ...
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update

from ovenai import dialects
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import JobLock
from ovenai.settings import Settings

log = logging.getLogger("ovenai.scheduler")


@dataclass(frozen=True)
class JobContext:
    """What a timed job gets: the settings and the database."""

    settings: Settings
    db: Database


JobFunc = Callable[[JobContext], Awaitable[object]]


@dataclass(frozen=True)
class TimedJob:
    """A job, when it fires (``cron`` fields or ``interval_s``) and how long its lease is."""

    name: str
    func: JobFunc
    cron: dict[str, Any] | None = None
    interval_s: float | None = None
    lease_s: float = 600.0
    min_gap_s: float = 0.0


REGISTRY: dict[str, TimedJob] = {}


def register(job: TimedJob) -> TimedJob:
    """Add (or replace) a job in the registry."""
    REGISTRY[job.name] = job
    return job


def every(
    name: str, *, seconds: float, lease_s: float | None = None
) -> Callable[[JobFunc], JobFunc]:
    """Register a job that runs every ``seconds`` (once across all workers)."""

    def decorate(func: JobFunc) -> JobFunc:
        lease = lease_s if lease_s is not None else max(seconds, 60.0)
        register(TimedJob(name, func, interval_s=seconds, lease_s=lease, min_gap_s=seconds / 2))
        return func

    return decorate


def weekly(
    name: str, *, day_of_week: str, hour: int, minute: int = 0, lease_s: float = 3600.0
) -> Callable[[JobFunc], JobFunc]:
    """Register a job that runs once a week (``day_of_week``: ``sun``…``sat``) at
    ``hour:minute`` in the agency's zone."""

    def decorate(func: JobFunc) -> JobFunc:
        cron = {"day_of_week": day_of_week, "hour": hour, "minute": minute}
        register(TimedJob(name, func, cron=cron, lease_s=lease_s, min_gap_s=6 * 86400.0))
        return func

    return decorate


def daily(
    name: str, *, hour: int, minute: int = 0, lease_s: float = 3600.0
) -> Callable[[JobFunc], JobFunc]:
    """Register a job that runs once a day at ``hour:minute`` in the agency's zone."""

    def decorate(func: JobFunc) -> JobFunc:
        cron = {"hour": hour, "minute": minute}
        register(TimedJob(name, func, cron=cron, lease_s=lease_s, min_gap_s=12 * 3600.0))
        return func

    return decorate


async def acquire(
    db: Database, name: str, owner: str, *, lease_s: float, min_gap_s: float = 0.0
) -> bool:
    """Take a job's lease: free or expired, and not run within ``min_gap_s``."""
    now = utcnow()
    async with db.session() as session:
        row = {"name": name, "owner": None, "locked_until": None, "last_run_at": None}
        await session.execute(
            dialects.insert(session, JobLock).values(row).on_conflict_do_nothing()
        )
        statement = (
            update(JobLock)
            .where(
                JobLock.name == name,
                or_(JobLock.locked_until.is_(None), JobLock.locked_until < now),
                or_(
                    JobLock.last_run_at.is_(None),
                    JobLock.last_run_at <= now - timedelta(seconds=min_gap_s),
                ),
            )
            .values(owner=owner, locked_until=now + timedelta(seconds=lease_s), last_run_at=now)
            .execution_options(synchronize_session=False)
        )
        result = await session.execute(statement)
        await session.commit()
    return dialects.rowcount(result) == 1


async def release(db: Database, name: str, owner: str) -> None:
    """Give the lease back (``last_run_at`` stays, so the gap still holds)."""
    async with db.session() as session:
        await session.execute(
            update(JobLock)
            .where(and_(JobLock.name == name, JobLock.owner == owner))
            .values(locked_until=None)
            .execution_options(synchronize_session=False)
        )
        await session.commit()


async def run_once(ctx: JobContext, job: TimedJob, owner: str) -> bool:
    """Run ``job`` if this worker gets its lease; whether it ran."""
    if not await acquire(ctx.db, job.name, owner, lease_s=job.lease_s, min_gap_s=job.min_gap_s):
        return False
    started: datetime = utcnow()
    try:
        await job.func(ctx)
    except Exception:
        log.exception("timed job %s failed", job.name)
    finally:
        await release(ctx.db, job.name, owner)
    log.info("timed job %s ran in %.1f s", job.name, (utcnow() - started).total_seconds())
    return True


class Scheduler:
    """APScheduler firing the registry's jobs; each run guarded by its lease."""

    def __init__(
        self, ctx: JobContext, owner: str, jobs: dict[str, TimedJob] | None = None
    ) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self.ctx = ctx
        self.owner = owner
        self.jobs = dict(REGISTRY if jobs is None else jobs)
        self.aps = AsyncIOScheduler(timezone=ctx.settings.zone)
        self._running: set[asyncio.Task[object]] = set()

    def start(self) -> None:
        """Add every job and start firing (needs a running event loop)."""
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        zone = self.ctx.settings.zone
        for job in self.jobs.values():
            trigger = (
                CronTrigger(timezone=zone, **job.cron)
                if job.cron is not None
                else IntervalTrigger(seconds=job.interval_s or 60.0, timezone=zone)
            )
            self.aps.add_job(
                self._run,
                trigger,
                args=(job,),
                id=job.name,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=300,
            )
        self.aps.start()

    async def _run(self, job: TimedJob) -> None:
        """One firing, known while it runs (so that :meth:`stop` lets it finish)."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await run_once(self.ctx, job, self.owner)
        finally:
            if task is not None:
                self._running.discard(task)

    async def stop(self, *, grace_s: float = 30.0) -> None:
        """Stop firing; a job already running finishes (for up to ``grace_s``) and gives its
        lease back before the scheduler shuts down. APScheduler's own shutdown cancels the
        jobs it is running: a retention half done would wait for its lease to expire."""
        if not self.aps.running:
            return
        self.aps.pause()
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace_s)
        self.aps.shutdown(wait=False)
