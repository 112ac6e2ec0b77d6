"""Recording what happened to each send, after the call, in few short transactions.

Outcomes are written in groups, one statement per kind: on PostgreSQL an ``UPDATE ... FROM
unnest(arrays)``, on SQLite one ``executemany`` of plain tuples at the driver. Both skip
SQLAlchemy's per-row parameter handling, which cost more than the writes themselves; the
values go out already in the form the column types would send. Every write is conditional on
the row still being claimed by this worker: a worker whose claim expired (it stalled; another
worker took the message) never overwrites the newer attempt.

``throttled_attempts`` counts the throttling answers a message had in a row, for the growing
waits of :mod:`ovenai.outbox.retry` (their attempts are refunded, so ``attempts`` cannot):
a throttling answer adds one; a retried fault (Meta answered otherwise) and a send set it
back to 0; a hold without a verdict on the message (a limit of ours, a message given back,
sending paused) and a failure leave it as it was.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict

from sqlalchemy.ext.asyncio import AsyncConnection

from ovenai import dialects, hooks, live
from ovenai.cloudapi.errors import CloudApiFailure
from ovenai.columns import stored_datetimes, utcnow
from ovenai.db import Database
from ovenai.models import MessageStatus

log = logging.getLogger("ovenai.outbox")
# How long outcomes wait in memory before they are written, and how many make a write at
# once: a send's outcome is visible that much later, and one write carries many sends. No
# reason for exactly 20 ms and 500 is recorded.
WRITE_INTERVAL_S = 0.02
WRITE_BATCH = 500
# After a write of outcomes failed (the database unreachable), wait this long before trying
# again; the outcomes stay buffered meanwhile. No reason for exactly 0.5 s is recorded.
WRITE_RETRY_S = 0.5


class Kind(enum.StrEnum):
    """What became of a claimed message."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One claimed message's result. ``refund``: the attempt does not count (held back);
    ``throttled``: a throttling answer, counted in ``throttled_attempts`` (refunded too)."""

    message_id: str
    kind: Kind
    at: datetime
    wa_message_id: str | None = None
    next_attempt_at: datetime | None = None
    error_code: int | None = None
    error_title: str | None = None
    error_detail: str | None = None
    refund: bool = False
    throttled: bool = False


_SHOWN = frozenset({Kind.SENT, Kind.FAILED})  # what the lead's conversation shows at once
_RELEASED = "status_at = {at}, updated_at = {at}, claimed_by = NULL, claimed_until = NULL"
_ERROR = "error_code = {code}, error_title = {title}, error_detail = {detail}"
# Per kind: the columns it sets, and which values (below) fill the ``{placeholders}``.
_SETS = {
    Kind.SENT: (
        f"status = '{MessageStatus.SENT.value}', sent_at = {{at}}, wa_message_id = {{wamid}}, "
        f"throttled_attempts = 0, "
        f"error_code = NULL, error_title = NULL, error_detail = NULL, {_RELEASED}",
        ("at", "wamid"),
    ),
    Kind.RETRY: (
        f"status = '{MessageStatus.QUEUED.value}', next_attempt_at = {{next_at}}, "
        f"attempts = attempts - {{refund}}, throttled_attempts = CASE "
        f"WHEN {{throttled}} = 1 THEN throttled_attempts + 1 "
        f"WHEN {{refund}} = 1 THEN throttled_attempts ELSE 0 END, {_ERROR}, {_RELEASED}",
        ("at", "next_at", "refund", "throttled", "code", "title", "detail"),
    ),
    Kind.FAILED: (
        f"status = '{MessageStatus.FAILED.value}', failed_at = {{at}}, {_ERROR}, {_RELEASED}",
        ("at", "code", "title", "detail"),
    ),
}
_ARRAY_TYPES = {
    "id": "varchar",
    "at": "timestamptz",
    "wamid": "varchar",
    "next_at": "timestamptz",
    "refund": "int",
    "throttled": "int",
    "code": "int",
    "title": "varchar",
    "detail": "text",
}


# How each value is taken from an outcome, given how the dialect stores datetimes.
_VALUE: dict[str, Callable[[Outcome, Callable[[datetime | None], Any]], Any]] = {
    "at": lambda outcome, stored: stored(outcome.at),
    "wamid": lambda outcome, _: outcome.wa_message_id,
    "next_at": lambda outcome, stored: stored(outcome.next_attempt_at),
    "refund": lambda outcome, _: 1 if outcome.refund else 0,
    "throttled": lambda outcome, _: 1 if outcome.throttled else 0,
    "code": lambda outcome, _: outcome.error_code,
    "title": lambda outcome, _: (outcome.error_title or "")[:300] or None,
    "detail": lambda outcome, _: outcome.error_detail,
}


@functools.cache
def _postgresql_statement(kind: Kind) -> str:
    """One kind's UPDATE for a whole group, from arrays: ``id``, one per value, ``worker``."""
    sets, names = _SETS[kind]
    # The arrays go in binary (%b): psycopg's text format quotes every element in Python,
    # which cost several times the rest of the write.
    arrays = ", ".join(f"CAST(%({n})b AS {_ARRAY_TYPES[n]}[])" for n in ("id", *names))
    return (
        f"UPDATE messages SET {sets.format(**{n: f'v.{n}' for n in names})} "
        f"FROM unnest({arrays}) AS v(id, {', '.join(names)}) "
        "WHERE messages.id = v.id AND messages.claimed_by = %(worker)s"
        + (" RETURNING messages.lead_id" if kind in _SHOWN else "")
    )


@functools.cache
def _sqlite_statement(kind: Kind) -> str:
    """One kind's UPDATE for one row: ``?1`` the id, ``?2`` the worker, then the values."""
    sets, names = _SETS[kind]
    numbered = {name: f"?{n}" for n, name in enumerate(names, start=3)}
    return f"UPDATE messages SET {sets.format(**numbered)} WHERE id = ?1 AND claimed_by = ?2"


async def _write_group(
    connection: AsyncConnection, kind: Kind, group: list[Outcome], worker: str
) -> set[str]:
    """Write one kind's outcomes; on PostgreSQL, the leads whose conversation now shows
    them (sent or failed), for :func:`ovenai.live.announce`."""
    names = _SETS[kind][1]
    stored = stored_datetimes(connection.dialect)
    ids = [outcome.message_id for outcome in group]
    columns = [[_VALUE[name](outcome, stored) for outcome in group] for name in names]
    if dialects.is_postgresql(connection):
        arrays = dict(zip(names, columns, strict=True)) | {"id": ids, "worker": worker}
        result = await connection.exec_driver_sql(_postgresql_statement(kind), arrays)
        return {row[0] for row in result} if kind in _SHOWN else set()
    rows = list(zip(ids, itertools.repeat(worker), *columns))
    await connection.exec_driver_sql(_sqlite_statement(kind), rows)
    return set()  # SQLite: the pages see the commit itself


async def write(db: Database, worker: str, outcomes: Sequence[Outcome]) -> None:
    """Store outcomes in one transaction (one statement per kind)."""
    groups: dict[Kind, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.kind, []).append(outcome)
    async with db.session() as session:
        connection = await session.connection()
        shown: set[str] = set()
        for kind, group in groups.items():
            shown |= await _write_group(connection, kind, group, worker)
        await live.announce(session, shown)
        if hooks.after_send_failed:
            failures = [
                hooks.SendFailure(outcome.message_id, outcome.error_code)
                for outcome in groups.get(Kind.FAILED, ())
                if outcome.error_code is not None
            ]
            await hooks.run_after_send_failed(session, failures)
        await session.commit()


class Recorder:
    """Buffers outcomes and writes them every ``interval_s`` (or at ``max_batch``)."""

    def __init__(
        self,
        db: Database,
        worker: str,
        *,
        interval_s: float = WRITE_INTERVAL_S,
        max_batch: int = WRITE_BATCH,
    ) -> None:
        self.db = db
        self.worker = worker
        self.interval_s = interval_s
        self.max_batch = max_batch
        self._buffer: list[Outcome] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, outcome: Outcome) -> None:
        """Queue an outcome for the next write."""
        self._buffer.append(outcome)
        self._idle.clear()
        if len(self._buffer) >= self.max_batch:
            self._wake.set()

    def sent(self, message_id: str, wa_message_id: str) -> None:
        """Meta accepted the message: record its WhatsApp message id."""
        self.add(Outcome(message_id, Kind.SENT, utcnow(), wa_message_id=wa_message_id))

    def failed(self, message_id: str, exc: CloudApiFailure) -> None:
        """Meta refused the message for good: record its code, title and details."""
        self.add(Outcome(message_id, Kind.FAILED, utcnow(), **_error_of(exc)))

    def refused(self, message_id: str, problem: str) -> None:
        """The rules forbid the message now (no call was made): it fails, saying why."""
        self.add(Outcome(message_id, Kind.FAILED, utcnow(), error_title=problem))

    def retry(
        self,
        message_id: str,
        delay: float,
        exc: CloudApiFailure | None = None,
        *,
        refund: bool,
        throttled: bool = False,
    ) -> None:
        """Back to the queue, due in ``delay`` s; ``refund``: the attempt does not count;
        ``throttled``: a throttling answer (see the module's doc on ``throttled_attempts``)."""
        now = utcnow()
        due = now + timedelta(seconds=delay)
        errors = _error_of(exc)
        self.add(
            Outcome(
                message_id,
                Kind.RETRY,
                now,
                next_attempt_at=due,
                refund=refund,
                throttled=throttled,
                **errors,
            )
        )

    def throttled(self, message_id: str, delay: float, exc: CloudApiFailure) -> None:
        """Meta refused it for a limit: back to the queue, due in ``delay`` s, the attempt
        refunded (a limit is not a fault) and the throttling answer counted."""
        self.retry(message_id, delay, exc, refund=True, throttled=True)

    def hold(self, message_id: str, delay: float, exc: CloudApiFailure | None = None) -> None:
        """Give a message back to the queue for later, without counting the attempt."""
        self.retry(message_id, delay, exc, refund=True)

    async def flush(self) -> bool:
        """Write what is buffered; returns whether there was anything."""
        if not self._buffer:
            self._idle.set()
            return False
        taken, self._buffer = self._buffer, []
        try:
            await write(self.db, self.worker, taken)
        except Exception:
            self._buffer[:0] = taken  # keep them; the next flush tries again
            raise
        if not self._buffer:
            self._idle.set()
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Flush periodically until ``stop``, then flush the rest."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("recording send outcomes failed; retrying")
                await asyncio.sleep(WRITE_RETRY_S)
        while self._buffer:
            await self.flush()

    async def wait_idle(self) -> None:
        """Until everything added so far is written."""
        await self._idle.wait()


class _ErrorFields(TypedDict):
    error_code: int | None
    error_title: str | None
    error_detail: str | None


def _error_of(exc: CloudApiFailure | None) -> _ErrorFields:
    """Meta's code, title (else its message) and details, as an outcome stores them."""
    if exc is None:
        return {"error_code": None, "error_title": None, "error_detail": None}
    return {
        "error_code": exc.code,
        "error_title": exc.title or exc.message,
        "error_detail": exc.details,
    }
