"""The webhook processor: stored bodies → leads, conversations, statuses, consent, templates.

Design
======

Receiving and processing are decoupled by the event store (``webhook_events``)::

    POST ──▶ size / signature / JSON checks ──▶ seal + INSERT (group commit) ──▶ 200
                                                      │ wake()
                                                      ▼
    Processor: claim a batch ──▶ decrypt + parse ──▶ apply items ──▶ mark processed ──▶ COMMIT

1. **Durable before the 200.** The route stores the raw bytes (sealed under the hour's
   key), the headers that matter and the receive time; the 200 never waits for processing.
   A database that cannot store answers 503 so that Meta retries.
2. **Woken, and swept.** Each commit of the store wakes the in-process processor; the
   worker's, which nobody wakes, looks every :data:`WORKER_LOOK_S`; a sweep every
   ``sweep_interval`` seconds, and a drain on start, pick up whatever is pending
   (a process that died between store and process loses nothing). ``ovenai webhooks
   process`` and the worker drain the same queue.
3. **One transaction per batch.** Up to ``batch_size`` pending bodies are locked
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer), parsed, applied and
   marked processed in ONE transaction: two processes never apply the same body, and a
   crash commits nothing of the batch. On SQLite a batch holds the one write lock, which
   the acknowledgements' writer needs too: batches are sized by time (:class:`BatchSizer`,
   about :data:`LOCK_BUDGET_S` each) and the processor pauses between them. If the batch
   fails, each body is retried alone under a committed lease that counts the attempt
   (:mod:`ovenai.ingest.backlog`), so one poison body is kept with its error (retried with
   backoff, then ``failed``) and never blocks the others. A body that is not a webhook
   envelope fails at once. An item that cannot be read (an
   :class:`~ovenai.events.UnreadableItem`) does not fail its body: the sound items apply
   and the body's failed items are recorded in the same transaction
   (:mod:`ovenai.ingest.failures`); only a body of which nothing could be read fails, at
   once (no retry reads it differently; a replay by a newer version may).
4. **Exactly once.** Each item's dedupe key is claimed in ``applied_items`` in the same
   transaction as its effects (:mod:`ovenai.ingest.apply.batch`); statuses are kept once per
   (wamid, status) in ``status_events``. Meta's retries and duplicate deliveries, replays
   and concurrent processes therefore change nothing twice.
5. **Order.** Items apply in document order within the receive order. Where Meta's order
   cannot be trusted, the result does not depend on it: a message's status is derived
   from the set of its statuses (forward only, by rank), consent follows the newest
   preference by Meta's timestamp, conversations sort by Meta's message time.
6. **Inbound messages in bulk.** A run of inbound messages is matched to its senders with
   one SELECT, new leads inserted and the messages inserted with one statement each, each
   lead's last inbound time set once (:mod:`ovenai.ingest.apply.inbound_messages`); an item
   that changes a sender's identity, a preference or an account change is applied alone at
   its place between runs (:mod:`ovenai.ingest.apply.batch`).
7. **Statuses in bulk.** A batch's statuses are inserted with one multi-row INSERT, the
   affected messages read and updated with one SELECT and one executemany UPDATE
   (:mod:`ovenai.ingest.apply.delivery_statuses`). Statuses for unknown messages wait, and are
   applied when their message appears (:func:`apply_waiting`, run on every sweep).
8. **Hooks.** After an inbound message or a batch of status changes is applied, the
   registered hooks (:mod:`ovenai.hooks`: automation, engagement scoring) run inside the
   same transaction, each in a savepoint, so their writes are exactly-once too. Inbound
   hooks run after their run's writes, for each (lead, message) in document order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects, hooks
from ovenai.columns import id_millis, utcnow
from ovenai.db import Database
from ovenai.errors import CryptoError, ServiceUnavailable
from ovenai.events import WebhookEvent
from ovenai.ingest import backlog, failures
from ovenai.ingest.apply.batch import Body, Outcome, apply_bodies
from ovenai.ingest.apply.delivery_statuses import apply_waiting
from ovenai.ingest.backlog import Claimed
from ovenai.ingest.errors import MalformedPayload
from ovenai.ingest.parse.body_parser import parse_webhook
from ovenai.ingest.receive.hour_keys import open_body
from ovenai.metrics import (
    MESSAGE_STATUSES,
    MESSAGES_INBOUND,
    WEBHOOK_APPLY_LATENCY,
    WEBHOOK_ITEMS,
    WEBHOOK_PROCESSED,
    WEBHOOK_UNREADABLE_ITEMS,
)

log = logging.getLogger("ovenai.ingest.processor")

PERMANENT = (MalformedPayload, CryptoError)
"""Errors no retry can fix: not a webhook envelope, or a body that no longer decrypts."""


BATCH_SIZE = 200
"""Bodies per transaction on PostgreSQL, whose row locks do not block the acknowledgement
writer; on SQLite the most a time-sized batch takes (:class:`BatchSizer`)."""

QUIET_AFTER_S = 0.5
"""SQLite: the newest stored body is this old, so no acknowledgement waits (BatchSizer)."""

WORKER_LOOK_S = 0.1
"""How often the worker's processor looks for bodies serve stored (``look_every``)."""

LOCK_BUDGET_S = 0.010
"""SQLite: about how long one batch may hold the write lock, which the acknowledgement
writer waits for meanwhile (its p99 target is 25 ms; bench/README.md "Inbound at volume")."""


@dataclass
class BatchSizer:
    """SQLite batch sizes from a moving estimate of the time one body takes to apply.

    A status costs a tenth of what a message from a new sender does, so no fixed count keeps
    the write lock short: each batch is timed from its claim to its commit, the estimate of
    seconds per body follows (an exponential moving average), and the next batch takes as
    many bodies as fit in ``budget_s``, rounded up (at least one, at most ``largest``). The
    per-batch overhead is part of each sample, so the size settles where a whole batch takes
    about ``budget_s``: a batch that took less than the budget makes the next one larger.
    Rounded down instead, a batch whose fixed part alone took over half the budget (a mix of
    statuses and messages, or a busy box) would stay at one body for good.

    When nothing was stored for :data:`QUIET_AFTER_S` (``quiet``: no acknowledgement is
    waiting for the lock, as when a backlog drains after a burst or ``ovenai webhooks
    process`` runs), batches take ``largest`` bodies, three to four times faster; the first
    claim that sees a newer body brings back batches sized by time. Not "nothing since the
    previous claim": bodies arrive in bursts (a group commit of the acknowledgement writer),
    and a gap of a few tens of milliseconds between two claims let a 200-body batch hold the
    lock for 100 ms while the next burst waited (p99 83 ms, measured).
    """

    budget_s: float = LOCK_BUDGET_S
    largest: int = BATCH_SIZE
    smallest: int = 1
    per_body_s: float = 0.0005
    weight: float = 0.3
    quiet: bool = False

    @property
    def size(self) -> int:
        """Bodies the next batch may take."""
        if self.quiet:
            return self.largest
        fits = math.ceil(self.budget_s / self.per_body_s - 1e-9)
        return max(self.smallest, min(self.largest, fits))

    def observe(self, bodies: int, seconds: float) -> None:
        """A batch of ``bodies`` held the lock ``seconds``."""
        if bodies > 0 and seconds > 0:
            self.per_body_s += self.weight * (seconds / bodies - self.per_body_s)


@dataclass
class Report:
    """What a drain did."""

    processed: int = 0
    retried: int = 0
    failed: int = 0
    items: Counter[str] = field(default_factory=Counter)
    unreadable: int = 0
    """Items of the processed and failed bodies that could not be read."""


@dataclass
class Processor:
    """Applies stored webhook bodies; run as a task (:meth:`start`) or drained once."""

    db: Database
    batch_size: int = 0
    """Bodies per transaction; 0 chooses: :data:`BATCH_SIZE` on PostgreSQL, sized by time on
    SQLite (:class:`BatchSizer`; then this is the size of the next batch)."""
    sweep_interval: float = 2.0
    look_every: float | None = None
    """How often to look for new bodies when nobody wakes this processor (None: every
    ``sweep_interval``). Serve wakes its own processor as it stores each body; the worker's
    stores nothing and is told nothing, so it looks every :data:`WORKER_LOOK_S` (an
    indexed query) — else a lead's message waited up to two seconds for its answer."""
    coalesce: float = 0.002
    pause: float = 0.001
    """SQLite: the breath between batches in which the acknowledgement writer takes the lock."""
    on_applied: Callable[[], None] | None = None
    """Called after each committed batch that applied inbound messages (the worker wakes its
    dispatcher: automation may have queued answers)."""
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _sizer: BatchSizer | None = None

    def __post_init__(self) -> None:
        if self.batch_size <= 0:
            if dialects.is_postgresql(self.db.dialect):
                self.batch_size = BATCH_SIZE
            else:
                self._sizer = BatchSizer()
                self.batch_size = self._sizer.size

    def wake(self) -> None:
        """Tell the running task that new bodies are stored."""
        self._wakeup.set()

    def start(self) -> None:
        """Run the processing loop as a task of the current event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="webhooks")

    async def stop(self) -> None:
        """Stop the loop (an unfinished batch rolls back and stays pending)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_sweep = 0.0
        while True:
            self._wakeup.clear()
            sweep = loop.time() - last_sweep >= self.sweep_interval
            last_sweep = loop.time() if sweep else last_sweep
            try:
                await self.drain(waiting=sweep)
            except ServiceUnavailable as exc:
                log.warning("webhook processing paused: %s", exc.message)
            except Exception:
                log.exception("webhook processing loop failed; retrying at the next sweep")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.look_every or self.sweep_interval)
            await asyncio.sleep(self.coalesce)  # let a burst gather into one batch

    async def drain(self, *, waiting: bool = True) -> Report:
        """Process batches until nothing is claimable; then apply statuses that waited."""
        report = Report()
        while await self.process_batch(report):
            # A breath between batches: on SQLite, the acknowledgement writer (another thread
            # or process) gets the write lock; everywhere, this loop's requests get a turn.
            await asyncio.sleep(self.pause if not dialects.is_postgresql(self.db.dialect) else 0)
        if waiting:
            await self.apply_waiting_statuses()
        return report

    async def process_batch(self, report: Report | None = None) -> int:
        """Claim, apply and finish one batch; returns how many bodies it handled."""
        report = report if report is not None else Report()
        claimed: list[Claimed] = []
        try:
            async with self.db.session() as session:
                claimed = await backlog.lock_batch(session, self.batch_size)
                if not claimed:
                    return 0
                self._arrivals(claimed[0].newest_stored)
                started = time.perf_counter()
                bodies, broken = await self._read(claimed)
                outcome = await apply_bodies(session, self.db.vault, bodies)
                failed = await _settle(session, claimed, bodies, broken)
                await session.commit()
                self._timed(len(claimed), time.perf_counter() - started)
        except ServiceUnavailable:
            raise
        except Exception as exc:
            if not claimed:
                raise
            log.warning("a batch of %d webhook bodies failed (%s); one by one", len(claimed), exc)
            await self._one_by_one(claimed, report)
            return len(claimed)
        self._count(report, claimed, outcome, failed=failed)
        if self.on_applied is not None and outcome.applied.get("InboundMessage"):
            self.on_applied()
        return len(claimed)

    def _arrivals(self, newest_stored: str | None) -> None:
        """SQLite: whether no body was stored for QUIET_AFTER_S (see BatchSizer)."""
        if self._sizer is not None and newest_stored is not None:
            age_ms = time.time() * 1000 - id_millis(newest_stored)
            self._sizer.quiet = age_ms >= QUIET_AFTER_S * 1000

    def _timed(self, bodies: int, seconds: float) -> None:
        """Size the next SQLite batch by how long this one held the write lock."""
        if self._sizer is not None:
            self._sizer.observe(bodies, seconds)
            self.batch_size = self._sizer.size

    async def _read(
        self, claimed: Sequence[Claimed]
    ) -> tuple[list[Body], list[tuple[Claimed, str]]]:
        """Decrypt and parse bodies; the ones no retry can fix are returned apart."""
        bodies: list[Body] = []
        broken: list[tuple[Claimed, str]] = []
        for event in claimed:
            try:
                bodies.append(await self._parse(event))
            except PERMANENT as exc:
                broken.append((event, f"{type(exc).__name__}: {exc}"))
        return bodies, broken

    async def _parse(self, event: Claimed) -> Body:
        if event.body_enc is None:
            raise CryptoError("the body was redacted")
        raw = await open_body(self.db.vault, event.id, event.key_bucket, event.body_enc)
        return Body(event.id, parse_webhook(raw))

    async def _one_by_one(self, claimed: Sequence[Claimed], report: Report) -> None:
        for event in claimed:
            await self._process_one(event.id, report)

    async def _process_one(self, event_id: str, report: Report) -> None:
        """Lease one body (counting the attempt), apply it alone, or keep its error."""
        async with self.db.session() as session:
            event = await backlog.lease_one(session, event_id)
            await session.commit()
        if event is None:
            return
        try:
            async with self.db.session() as session:
                bodies, broken = await self._read([event])
                outcome = await apply_bodies(session, self.db.vault, bodies)
                failed = await _settle(session, [event], bodies, broken)
                await session.commit()
        except ServiceUnavailable:
            raise
        except Exception as exc:
            await self._keep_error(event, exc, report)
            return
        self._count(report, [event], outcome, failed=failed)

    async def _keep_error(self, event: Claimed, exc: Exception, report: Report) -> None:
        log.warning("webhook body %s failed: %s: %s", event.id, type(exc).__name__, exc)
        async with self.db.session() as session:
            verdict = await backlog.record_failure(
                session, event, f"{type(exc).__name__}: {exc}", final=isinstance(exc, PERMANENT)
            )
            await session.commit()
        WEBHOOK_PROCESSED.labels(outcome=verdict).inc()
        if verdict == "failed":
            report.failed += 1
        else:
            report.retried += 1

    def _count(
        self, report: Report, claimed: Sequence[Claimed], outcome: Outcome, *, failed: int
    ) -> None:
        now = utcnow()
        for event in claimed:
            WEBHOOK_APPLY_LATENCY.observe((now - event.received_at).total_seconds())
        WEBHOOK_PROCESSED.labels(outcome="processed").inc(len(claimed) - failed)
        WEBHOOK_PROCESSED.labels(outcome="failed").inc(failed)
        report.processed += len(claimed) - failed
        report.failed += failed
        for kind, count in outcome.applied.items():
            WEBHOOK_ITEMS.labels(kind=kind, outcome="applied").inc(count)
            report.items[kind] += count
        for kind, count in outcome.duplicates.items():
            WEBHOOK_ITEMS.labels(kind=kind, outcome="duplicate").inc(count)
        for (item, change_field), count in outcome.unreadable.items():
            WEBHOOK_UNREADABLE_ITEMS.labels(item=item, field=change_field).inc(count)
            report.unreadable += count
        for type_, count in outcome.inbound_types.items():
            MESSAGES_INBOUND.labels(type=type_).inc(count)
        for status, count in outcome.statuses.items():
            MESSAGE_STATUSES.labels(status=status).inc(count)

    async def apply_waiting_statuses(self) -> int:
        """Apply statuses whose outbound message appeared after them; how many messages moved."""
        async with self.db.session() as session:
            refreshed = await apply_waiting(session)
            await hooks.run_after_status(session, refreshed.changes)
            await session.commit()
        return len(refreshed.changes)


async def _settle(
    session: AsyncSession,
    claimed: Sequence[Claimed],
    bodies: Sequence[Body],
    broken: Sequence[tuple[Claimed, str]],
) -> int:
    """Record each body's failed items, finish the bodies that applied, fail the others.

    Returns how many bodies failed: those that are not webhooks or do not decrypt, and those
    of which nothing could be read.
    """
    found: dict[str, Sequence[WebhookEvent]] = {body.event_id: body.items for body in bodies}
    found |= {event.id: () for event, _ in broken}  # none now: clear what an earlier run found
    none_recorded = {event.id for event in claimed if not event.failures_recorded}
    await failures.record(session, found, none_recorded=none_recorded)
    unreadable = _nothing_readable(claimed, bodies)
    unusable = {event.id for event, _ in unreadable}
    done = [body.event_id for body in bodies if body.event_id not in unusable]
    if done:
        await backlog.finish(session, done)
    for event, error in [*broken, *unreadable]:
        log.warning("webhook body %s failed: %s", event.id, error)
        await backlog.record_failure(session, event, error, final=True)
    return len(broken) + len(unreadable)


def _nothing_readable(
    claimed: Sequence[Claimed], bodies: Sequence[Body]
) -> list[tuple[Claimed, str]]:
    """The bodies of which nothing could be read, each with the error that summarises them."""
    of = {event.id: event for event in claimed}
    return [
        (of[body.event_id], failures.summary(body.items))
        for body in bodies
        if failures.nothing_readable(body.items)
    ]


async def run_processor(db: Database, stop: asyncio.Event) -> None:
    """Apply stored webhooks (what is pending first) until ``stop`` is set.

    For a process that only processes (the webhook benchmark's; ``ovenai worker`` runs a
    Processor of its own beside the dispatcher), so that ``ovenai serve`` can leave its core
    to acknowledgements (OVENAI_WEBHOOK_PROCESS_IN_SERVE).
    """
    processor = Processor(db)
    processor.start()
    try:
        await stop.wait()
    finally:
        await processor.stop()
