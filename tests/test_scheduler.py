"""Timed jobs run once across workers: leases in job_locks, a gap between runs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from ovenai import scheduler
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import JobLock
from ovenai.settings import Settings

pytestmark = pytest.mark.anyio


def _job(runs: list[str], name: str = "test.job", min_gap_s: float = 3600.0) -> scheduler.TimedJob:
    async def work(ctx: scheduler.JobContext) -> None:
        runs.append(name)
        await asyncio.sleep(0.05)

    return scheduler.TimedJob(name, work, interval_s=7200, lease_s=60, min_gap_s=min_gap_s)


async def test_only_one_of_several_workers_runs_a_fired_job(
    db: Database, clean_db: Settings
) -> None:
    runs: list[str] = []
    job = _job(runs)
    ctx = scheduler.JobContext(clean_db, db)

    ran = await asyncio.gather(*(scheduler.run_once(ctx, job, f"w{n}") for n in range(4)))

    assert sorted(ran) == [False, False, False, True] and runs == ["test.job"]


async def test_a_late_worker_does_not_repeat_a_job_that_just_ran(
    db: Database, clean_db: Settings
) -> None:
    runs: list[str] = []
    ctx = scheduler.JobContext(clean_db, db)
    assert await scheduler.run_once(ctx, _job(runs), "early")
    assert not await scheduler.run_once(ctx, _job(runs), "late")
    assert runs == ["test.job"]


async def test_a_dead_workers_lease_expires_and_another_takes_the_job(
    db: Database, clean_db: Settings
) -> None:
    assert await scheduler.acquire(db, "test.job", "dead", lease_s=60, min_gap_s=0)
    assert not await scheduler.acquire(db, "test.job", "alive", lease_s=60, min_gap_s=0)
    async with db.session() as session:
        past = utcnow() - timedelta(seconds=1)
        await session.execute(update(JobLock).values(locked_until=past))
        await session.commit()
    assert await scheduler.acquire(db, "test.job", "alive", lease_s=60, min_gap_s=0)


async def test_the_scheduler_fires_registered_jobs_and_retention_runs_daily_at_two(
    db: Database, clean_db: Settings
) -> None:
    import ovenai.worker  # noqa: F401  (registers the built-in jobs)

    runs: list[str] = []
    second_run = asyncio.Event()

    async def work(ctx: scheduler.JobContext) -> None:
        runs.append("fast")
        if len(runs) == 2:
            second_run.set()

    jobs = {"fast": scheduler.TimedJob("fast", work, interval_s=0.2, lease_s=5)}
    timed = scheduler.Scheduler(scheduler.JobContext(clean_db, db), "w1", jobs)
    timed.start()
    try:  # fired again and again, each run after the last; its period: bench/README.md
        await asyncio.wait_for(second_run.wait(), timeout=30)
    finally:
        await timed.stop()
    assert runs[:2] == ["fast", "fast"]
    retention = scheduler.REGISTRY["retention"]
    assert retention.cron == {"hour": 2, "minute": 0}
    assert clean_db.timezone == "Asia/Jerusalem"


async def test_stopping_lets_a_running_job_finish_and_give_its_lease_back(
    db: Database, clean_db: Settings
) -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow(ctx: scheduler.JobContext) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.set()

    jobs = {"slow": scheduler.TimedJob("slow", slow, interval_s=0.1, lease_s=60)}
    timed = scheduler.Scheduler(scheduler.JobContext(clean_db, db), "w1", jobs)
    timed.start()
    await asyncio.wait_for(started.wait(), timeout=30)
    await timed.stop()  # while the job sleeps
    assert finished.is_set()
    async with db.session() as session:
        lock = await session.get(JobLock, "slow")
    assert lock is not None and lock.locked_until is None  # given back, not left to expire
