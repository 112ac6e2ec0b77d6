"""Which claimed messages may go now: the rules, the messaging-limit tier, the pair limit.

A message the rules now forbid (window closed, opted out, lead erased: ``Job.problem``) is
refused; a marketing message claimed in a quiet time (:mod:`ovenai.quiet_hours`: queued
just before it began, or by a caller that left quiet times to the worker) waits for its
end; one the tier or the pair limit holds goes back to the queue until its limit has room;
the rest get their pair-limit slot and go in line for sending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.outbox import messaging_tier, rules
from ovenai.outbox.bucket_store import Buckets
from ovenai.outbox.claims import Job
from ovenai.outbox.dispatch_config import DispatchConfig


@dataclass(slots=True)
class Admission:
    """A claimed batch, sorted: each job with the seconds it waits (ready or held)."""

    ready: list[tuple[Job, float]] = field(default_factory=list)  # until its pair slot
    held: list[tuple[Job, float]] = field(default_factory=list)  # until it may be tried again
    refused: list[Job] = field(default_factory=list)  # ``problem`` says why
    quiet: list[tuple[Job, datetime]] = field(default_factory=list)  # marketing, until then


async def admit(
    db: Database, buckets: Buckets, config: DispatchConfig, jobs: list[Job]
) -> Admission:
    """Sort a claimed batch into ready, held and refused (places and pair tokens taken)."""
    admission = Admission(refused=[job for job in jobs if job.problem])
    allowed = _outside_quiet(config, [job for job in jobs if not job.problem], admission)
    sendable = await _within_tier(db, config, allowed, admission)
    pair = [config.pair_bucket(job.lead_id) for job in sendable]
    grants = await buckets.reserve_each(pair, config.pair_horizon_s)
    for job, grant in zip(sendable, grants, strict=True):
        if grant.delays:
            admission.ready.append((job, grant.delays[0]))
        else:
            admission.held.append((job, grant.retry_after))
    return admission


def _outside_quiet(config: DispatchConfig, jobs: list[Job], admission: Admission) -> list[Job]:
    """The jobs that may go now; marketing in a quiet time is added to ``admission.quiet``."""
    if not config.quiet.enabled:
        return jobs
    held = config.quiet.hold(utcnow()) if any(_marketing(job) for job in jobs) else None
    if held is None:
        return jobs
    passing = []
    for job in jobs:
        if not _marketing(job):
            passing.append(job)
            continue
        # Due at the quiet time's end, at its place in the spread window.
        leaves = held.until + config.quiet.offset(job.id)
        release = config.quiet.release_at(job.id, leaves)  # None: the spread stays allowed
        admission.quiet.append((job, release.until if release else leaves))
    return passing


def _marketing(job: Job) -> bool:
    return (job.category or "").upper() == rules.MARKETING


async def _within_tier(
    db: Database, config: DispatchConfig, jobs: list[Job], admission: Admission
) -> list[Job]:
    """The jobs the tier lets through; the others are added to ``admission.held``."""
    counted = [job.lead_id for job in jobs if job.business_initiated]
    if config.messaging_limit is None or not counted:
        return jobs
    async with db.session() as session:
        allowed, wait = await messaging_tier.reach_allowance(
            session,
            portfolio=config.portfolio,
            phone_number_id=config.phone_number_id,
            lead_ids=counted,
            limit=config.messaging_limit,
        )
        await session.commit()
    passing = []
    for job in jobs:
        if job.business_initiated and job.lead_id not in allowed:
            admission.held.append((job, wait))
        else:
            passing.append(job)
    return passing
