"""The outbound dispatcher: claim due messages, hold what the limits hold, send, record.

One :meth:`Dispatcher.step` is "process one batch, return whether there was work":

1. claim up to a batch of due messages (attempt recorded before the call, see ``claims``);
2. fail at once what the rules now forbid (window closed, opted out, lead erased);
3. hold back what the messaging-limit tier or the pair limit holds (back to ``queued``
   with a later ``next_attempt_at``; the attempt is refunded: a held message is not failed);
4. queue the rest for the worker's one timer (``pacing.Pacer``), which starts each send at
   its own slot of the number's shared throughput bucket, with at most ``concurrency``
   requests in flight;
5. each send's outcome is recorded after the call (``outcomes.Recorder``), and failures
   follow :mod:`ovenai.outbox.retry`.

:meth:`Dispatcher.run` repeats steps while sends are in flight, until told to stop; then it
stops claiming, lets in-flight sends finish, gives back what it has not sent, and flushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import random
import secrets
import socket
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from ovenai.alerts import raise_alert, resolve_alerts
from ovenai.cloudapi import CloudApiClient, SendResult
from ovenai.cloudapi.errors import CloudApiFailure, ErrorDetails, TransientError
from ovenai.db import Database, utcnow
from ovenai.models import SystemFlag
from ovenai.outbox import claims, limits
from ovenai.outbox.claims import Job
from ovenai.outbox.limits import Bucket, Buckets
from ovenai.outbox.outcomes import Kind, Outcome, Recorder
from ovenai.outbox.pacing import Pacer, Unpaced
from ovenai.outbox.retry import Action, RetryPolicy, SlowDown, Verdict
from ovenai.settings import Settings

log = logging.getLogger("ovenai.outbox")
PAUSE_FLAG = "sending_paused"
TOKEN_ALERT = "whatsapp_access_token"
# How long a worker trusts "not paused" before asking the database again: another worker's
# pause reaches it within this (its own 190 answers pause it at once).
PAUSE_CHECK_S = 1.0
MIN_BATCH, MAX_BATCH = 200, 1000  # messages one claim takes (DispatchConfig.claim_batch)


def new_worker_id() -> str:
    """A name for this worker process that is unique across machines."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def token_fingerprint(token: str) -> str:
    """A short, irreversible name for an access token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DispatchConfig:
    """How one worker sends: limits (cloud-api.md §6), batch sizes and timings.

    ``pacing`` keeps the shared rate a little under Meta's cap, ``burst_s`` bounds how many
    tokens may be saved up and ``slot_tolerance_s`` how late a send may start after its slot,
    so that no one-second window carries more than the cap even with the scheduling jitter
    of a busy machine: ``pacing * (1 + slot_tolerance_s + EARLY_S) + burst_s`` stays under 1
    (``EARLY_S``: a millisecond, see :mod:`ovenai.outbox.pacing`), with room left for the
    jitter on Meta's side. ``block_s``: how many seconds of slots a worker takes from the
    shared bucket at a time. ``batch_size``: messages claimed at a time (see
    :attr:`claim_batch`).
    """

    phone_number_id: str
    portfolio: str
    messages_per_second: float | None = 80.0  # None: no throughput pacing (benchmarks)
    pacing: float = 0.97
    burst_s: float = 0.002
    horizon_s: float = 0.5
    block_s: float = 0.05
    slot_tolerance_s: float = 0.015
    pair_interval_s: float = 6.0
    pair_burst: int = 5
    pair_horizon_s: float = 1.0
    messaging_limit: int | None = 2000
    concurrency: int = 64
    batch_size: int | None = None  # None: half a second of the number's throughput
    claim_ttl_s: float = 60.0
    poll_s: float = 0.2
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatchConfig:
        """The configuration the settings describe."""
        return cls(
            phone_number_id=settings.whatsapp_phone_number_id or "",
            portfolio=settings.whatsapp_business_account_id
            or settings.whatsapp_phone_number_id
            or "",
            messages_per_second=settings.messages_per_second,
            pair_interval_s=settings.pair_interval_s,
            pair_burst=settings.pair_burst,
            messaging_limit=settings.messaging_limit,
            concurrency=settings.worker_concurrency,
            claim_ttl_s=settings.worker_claim_ttl_s,
        )

    @property
    def claim_batch(self) -> int:
        """How many messages one claim takes: ``batch_size``, else half a second of sending.

        A claim costs the database and the worker about the same whatever its size, so small
        batches make claiming the bottleneck (bench/outbound, unpaced: 200 a claim ~1,850
        messages/s, 1,000 ~2,550). A large one holds SQLite's write lock longer, which the
        rate-limit reservations wait behind (capped at 1,000/s: 1,000 a claim left the
        worker without sending slots for up to 0.3 s; 500 did not), and lengthens what a
        dead worker's expiring claims hold up. Between ``MIN_BATCH`` and ``MAX_BATCH``;
        unpaced, ``MAX_BATCH``.
        """
        if self.batch_size is not None:
            return self.batch_size
        if self.messages_per_second is None:
            return MAX_BATCH
        return max(MIN_BATCH, min(MAX_BATCH, round(self.messages_per_second / 2)))

    @property
    def number_bucket(self) -> Bucket:
        """The business number's messages-per-second bucket."""
        mps = self.messages_per_second or 0.0
        rate = mps * self.pacing
        capacity = max(1.0, mps * self.burst_s)
        return Bucket(f"mps:{self.phone_number_id}", rate, capacity)

    def pair_bucket(self, lead_id: str) -> Bucket:
        """The pair limit to one lead: one message per interval, a small burst."""
        return Bucket(f"pair:{lead_id}", 1.0 / self.pair_interval_s, float(self.pair_burst))


class Dispatcher:
    """Sends the outbox through one Cloud API client within the shared limits."""

    def __init__(
        self,
        db: Database,
        client: CloudApiClient,
        buckets: Buckets,
        config: DispatchConfig,
        *,
        worker_id: str | None = None,
        rng: random.Random | None = None,
        token_id: str = "",
    ) -> None:
        self.db = db
        self.client = client
        self.buckets = buckets
        self.config = config
        self.worker_id = worker_id or new_worker_id()
        self.rng = rng or random.Random()
        self.token_id = token_id  # the token's fingerprint, kept with a pause
        self.recorder = Recorder(db, self.worker_id)
        self.pacer: Pacer | Unpaced = Unpaced()
        if config.messages_per_second is not None:
            self.pacer = Pacer(
                buckets,
                config.number_bucket,
                block_s=config.block_s,
                horizon_s=config.horizon_s,
                tolerance_s=config.slot_tolerance_s,
                most=config.concurrency,
            )
        self._sem = asyncio.Semaphore(config.concurrency)
        self._batch = config.claim_batch
        # Claim again while two batches are still waiting or in flight: the next claim
        # (database, decryption, limits) then runs while a whole batch is still being sent,
        # and sending never waits for it (unpaced: one batch ahead ~2,750/s, two ~3,000).
        self._ahead = 2 * self._batch
        self._ready: deque[Job] = deque()  # admitted, waiting for a slot
        self._later: dict[str, tuple[asyncio.TimerHandle, Job]] = {}  # waiting for its pair
        self._tasks: set[asyncio.Task[None]] = set()  # sends in flight
        self._has_ready = asyncio.Event()
        self._has_room = asyncio.Event()  # room to claim again
        self._settled = asyncio.Event()  # nothing waiting or in flight
        self._releasing: asyncio.Task[None] | None = None
        self._next_claim: asyncio.Task[list[Job]] | None = None  # claimed ahead (step)
        self._closing = False
        self._was_full = False
        self._paused_until = 0.0
        self._unpaused_until = 0.0

    # -- one step ---------------------------------------------------------------------------

    async def step(self) -> bool:
        """Claim one batch and queue it for sending; whether there was work.

        A full batch means more is probably due: the next claim (transaction and decryption)
        starts at once and runs while this batch is admitted and sent (one after the other,
        the claims left an unpaced SQLite worker's sends idle between batches).
        """
        if self._full() or self._closing or await self.paused():
            return False
        jobs = await self._claimed()
        if not jobs:
            return False
        if len(jobs) == self._batch:
            self._next_claim = asyncio.create_task(self._claim(self._batch))
        for job, delay in await self._admit(jobs):
            self._queue(job, delay)
        self._start_releasing()
        return True

    async def _claimed(self) -> list[Job]:
        """The batch claimed ahead, or one claimed now if that found none (or there is none).

        One claimed ahead ran while the batch before was still being sent: messages that
        waited for an earlier one to the same lead may have become due since.
        """
        ahead, self._next_claim = self._next_claim, None
        jobs = await ahead if ahead is not None else []
        return jobs or await self._claim(self._batch)

    async def _give_back_claimed_ahead(self) -> None:
        """Return a batch claimed ahead to the queue (stopping)."""
        ahead, self._next_claim = self._next_claim, None
        if ahead is None:
            return
        try:
            jobs = await ahead
        except Exception:  # its transaction rolled back: nothing was claimed
            log.exception("claiming ahead failed")
            return
        for job in jobs:
            self._hold(job, 0.0)

    def _outstanding(self) -> int:
        return len(self._ready) + len(self._later) + len(self._tasks)

    def _full(self) -> bool:
        """Whether more than two batches are still waiting or in flight (claim no more yet)."""
        return self._outstanding() > self._ahead

    async def _claim(self, limit: int) -> list[Job]:
        now = utcnow()
        # Send only while the claim is safely ours: a job still waiting (the number's bucket
        # held by a penalty) when half its claim has run out goes back to the queue instead.
        send_by = asyncio.get_running_loop().time() + self.config.claim_ttl_s / 2
        async with self.db.session() as session:
            rows = await claims.claim(
                session,
                worker=self.worker_id,
                limit=limit,
                ttl_s=self.config.claim_ttl_s,
                now=now,
            )
            await session.commit()
        jobs = await claims.load_jobs(self.db.vault, rows, now)
        for job in jobs:
            job.send_by = send_by
        return jobs

    async def _admit(self, jobs: list[Job]) -> list[tuple[Job, float]]:
        """Fail what the rules forbid, hold what the tier and pair limits hold."""
        sendable = []
        for job in jobs:
            if job.problem:
                self._record(job, Kind.FAILED, error_title=job.problem)
            else:
                sendable.append(job)
        sendable = await self._within_tier(sendable)
        pair = [self.config.pair_bucket(job.lead_id) for job in sendable]
        grants = await self.buckets.reserve_each(pair, self.config.pair_horizon_s)
        ready = []
        for job, grant in zip(sendable, grants, strict=True):
            if grant.delays:
                ready.append((job, grant.delays[0]))
            else:
                self._hold(job, grant.retry_after)
        return ready

    async def _within_tier(self, jobs: list[Job]) -> list[Job]:
        counted = [job.lead_id for job in jobs if job.business_initiated]
        if self.config.messaging_limit is None or not counted:
            return jobs
        async with self.db.session() as session:
            allowed, wait = await limits.reach_allowance(
                session,
                portfolio=self.config.portfolio,
                lead_ids=counted,
                limit=self.config.messaging_limit,
            )
            await session.commit()
        passing = []
        for job in jobs:
            if job.business_initiated and job.lead_id not in allowed:
                self._hold(job, wait)
            else:
                passing.append(job)
        return passing

    # -- pacing: one timer per worker ---------------------------------------------------------

    def _queue(self, job: Job, delay: float) -> None:
        """Make a job ready now, or once its pair-limit slot comes."""
        if delay <= 0:
            self._make_ready(job)
            return
        handle = asyncio.get_running_loop().call_later(delay, self._pair_due, job.id)
        self._later[job.id] = (handle, job)

    def _pair_due(self, job_id: str) -> None:
        self._make_ready(self._later.pop(job_id)[1])

    def _make_ready(self, job: Job, *, first: bool = False) -> None:
        if first:
            self._ready.appendleft(job)
        else:
            self._ready.append(job)
        self._has_ready.set()

    def _start_releasing(self) -> None:
        if self._releasing is None or self._releasing.done():
            self._releasing = asyncio.create_task(self._release())

    async def _release(self) -> None:
        """Start ready sends, each at its own slot of the shared bucket, until closing."""
        while not self._closing:
            if not self._ready:
                self._has_ready.clear()
                await self._has_ready.wait()
                continue
            await self._sem.acquire()
            try:
                deadline = await self.pacer.acquire(len(self._ready))
            except Exception:
                self._sem.release()
                log.exception("could not reserve sending slots; trying again shortly")
                await asyncio.sleep(1.0)
                continue
            if self._closing or not self._ready:
                self._sem.release()
                continue
            self._start(self._ready.popleft(), deadline)

    async def _stop_releasing(self) -> None:
        if self._releasing is not None:
            self._releasing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._releasing
            self._releasing = None
        await self.pacer.close()

    def _start(self, job: Job, deadline: float) -> None:
        task = asyncio.create_task(self._deliver(job, deadline))
        self._tasks.add(task)
        self._settled.clear()
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._sem.release()
        outstanding = self._outstanding()
        if outstanding == self._ahead:
            self._has_room.set()
        if outstanding == 0:
            self._settled.set()

    # -- one send ---------------------------------------------------------------------------

    async def _deliver(self, job: Job, deadline: float) -> None:
        now = asyncio.get_running_loop().time()
        if self._closing or self._paused_until > now:
            self._hold(job, 1.0)
            return
        if now > job.send_by:  # our claim may soon lapse: let whoever claims it next send it
            self._hold(job, 0.0)
            return
        if now > deadline:  # woken too late for the slot: wait for another one
            self._make_ready(job, first=True)
            return
        try:
            result = await self._call(job)
        except CloudApiFailure as exc:
            await self._failed(job, exc)
            return
        except Exception as exc:  # a bug must not lose the message: retry like a fault
            log.exception("unexpected error sending message %s", job.id)
            info = ErrorDetails(http_status=0, message=f"{type(exc).__name__}: {exc}")
            await self._failed(job, TransientError(info))
            return
        self._record(job, Kind.SENT, wa_message_id=result.message_id)

    async def _call(self, job: Job) -> SendResult:
        if job.kind == "text":
            return await self.client.send_text(
                text=job.text or "",
                to=job.to,
                recipient=job.recipient,
                preview_url=job.preview_url,
                callback_data=job.id,
            )
        return await self.client.send_template(
            name=job.template_name or "",
            language=job.template_language or "",
            to=job.to,
            recipient=job.recipient,
            body_params=job.body_params,
            header_params=job.header_params,
            callback_data=job.id,
        )

    async def _failed(self, job: Job, exc: CloudApiFailure) -> None:
        verdict = self.config.policy.decide(exc, job.attempts, self.rng)
        if verdict.action is Action.PAUSE:
            await self._pause(exc)
            self._hold(job, 1.0, exc)
            return
        if verdict.action is Action.FAIL:
            self._record(job, Kind.FAILED, **_error_fields(exc))
            return
        await self._slow_down(job, verdict)
        refund = exc.kind.value == "throttled"
        self._retry(job, verdict.delay_s, exc, refund=refund)

    async def _slow_down(self, job: Job, verdict: Verdict) -> None:
        if verdict.slow_down is SlowDown.NONE:
            return
        if verdict.slow_down is SlowDown.NUMBER and self.config.messages_per_second is None:
            return  # unpaced: no shared bucket to slow down
        bucket = (
            self.config.number_bucket
            if verdict.slow_down is SlowDown.NUMBER
            else self.config.pair_bucket(job.lead_id)
        )
        try:
            await self.buckets.penalize(bucket, verdict.slow_down_s)
        except Exception:
            log.exception("could not slow down %s", bucket.name)

    # -- outcomes ---------------------------------------------------------------------------

    def _record(self, job: Job, kind: Kind, **fields: object) -> None:
        self.recorder.add(Outcome(job.id, kind, utcnow(), **fields))  # type: ignore[arg-type]

    def _retry(
        self, job: Job, delay: float, exc: CloudApiFailure | None = None, *, refund: bool
    ) -> None:
        now = utcnow()
        errors = _error_fields(exc) if exc else {}
        next_at = now + timedelta(seconds=delay)
        self.recorder.add(
            Outcome(job.id, Kind.RETRY, now, next_attempt_at=next_at, refund=refund, **errors)  # type: ignore[arg-type]
        )

    def _hold(self, job: Job, delay: float, exc: CloudApiFailure | None = None) -> None:
        """Give a message back to the queue for later, without counting the attempt."""
        self._retry(job, delay, exc, refund=True)

    # -- pausing after an invalid token -------------------------------------------------------

    async def paused(self) -> bool:
        """Whether sending is paused (an invalid token was seen by any worker)."""
        now = asyncio.get_running_loop().time()
        if self._paused_until > now:
            return True
        if self._unpaused_until > now:  # asked less than PAUSE_CHECK_S ago: not paused
            return False
        async with self.db.session() as session:
            flag = await session.get(SystemFlag, PAUSE_FLAG)
        if flag is not None:
            self._paused_until = now + 2.0
        else:
            self._unpaused_until = now + PAUSE_CHECK_S
        return flag is not None

    async def _pause(self, exc: CloudApiFailure) -> None:
        self._paused_until = asyncio.get_running_loop().time() + 2.0
        await pause_sending(self.db, code=exc.code, reason=exc.message, token=self.token_id)

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Step until ``stop`` is set; then finish in-flight sends and give back the rest."""
        recorder_stop = asyncio.Event()
        recording = asyncio.create_task(self.recorder.run(recorder_stop))
        try:
            while not stop.is_set():
                self._was_full = self._full()
                worked = await self._safe_step()
                if not worked:
                    await self._wait(stop)
        finally:
            self._closing = True
            await self._stop_releasing()
            await self._give_back_claimed_ahead()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self._give_back()
            recorder_stop.set()
            await recording
            log.info("worker %s: %d sending slots missed", self.worker_id, self.pacer.missed)

    def _give_back(self) -> None:
        """Return what was claimed but not sent to the queue, for any worker to take."""
        for handle, job in self._later.values():
            handle.cancel()
            self._ready.append(job)
        self._later.clear()
        while self._ready:
            self._hold(self._ready.popleft(), 0.0)

    async def _safe_step(self) -> bool:
        try:
            return await self.step()
        except Exception:
            log.exception("dispatcher step failed; trying again shortly")
            await asyncio.sleep(1.0)
            return False

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until stopped, room for a whole batch, or ``poll_s`` (something may be due)."""
        self._has_room.clear()
        if self._was_full and not self._full():
            return
        waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._has_room.wait())}
        _, pending = await asyncio.wait(
            waiters, timeout=self.config.poll_s, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in pending:
            waiter.cancel()

    async def drain(self, *, timeout: float = 30.0) -> None:
        """Send until nothing is due or in flight (tests and one-shot runs)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    worked = await self.step()
                    while self._outstanding():
                        self._settled.clear()
                        await self._settled.wait()
                    await self.recorder.flush()
                    if not worked:
                        return
        finally:
            await self._stop_releasing()
            await self._give_back_claimed_ahead()
            await self.recorder.flush()


def _error_fields(exc: CloudApiFailure) -> dict[str, object]:
    return {
        "error_code": exc.code,
        "error_title": exc.title or exc.message,
        "error_detail": exc.details,
    }


async def pause_sending(db: Database, *, code: int | None, reason: str, token: str = "") -> None:
    """Pause every worker's sending and raise one critical alert."""
    value = json.dumps({"code": code, "reason": reason[:300], "token": token, "at": _now_iso()})
    async with db.session() as session:
        if await session.get(SystemFlag, PAUSE_FLAG) is None:
            session.add(SystemFlag(name=PAUSE_FLAG, value=value))
            message = (
                f"Meta rejected the access token (code {code}): all sending is paused; "
                "queued messages wait. Configure a valid WHATSAPP_ACCESS_TOKEN and restart "
                "the workers."
            )
            await raise_alert(session, kind=TOKEN_ALERT, severity="critical", message=message)
        await session.commit()


async def resume_sending(db: Database) -> bool:
    """Lift the pause and close its alert; whether sending was paused."""
    async with db.session() as session:
        result = await session.execute(delete(SystemFlag).where(SystemFlag.name == PAUSE_FLAG))
        await resolve_alerts(session, kind=TOKEN_ALERT)
        await session.commit()
    return bool(getattr(result, "rowcount", 0))


async def resume_if_new_token(db: Database, token: str) -> bool:
    """Lift a pause that another token caused (a worker started with a new token)."""
    async with db.session() as session:
        flag = await session.scalar(select(SystemFlag).where(SystemFlag.name == PAUSE_FLAG))
    if flag is None:
        return False
    paused_for = json.loads(flag.value).get("token", "")
    if paused_for and paused_for == token_fingerprint(token):
        return False
    return await resume_sending(db)


def _now_iso() -> str:
    now: datetime = utcnow()
    return now.isoformat()
