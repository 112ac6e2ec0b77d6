"""Recording what happened to each send, after the call, in few short transactions.

Outcomes are written in groups (one ``executemany`` per kind; on PostgreSQL the sent ones
as one ``UPDATE ... FROM unnest(arrays)``) so thousands of sends a second cost a few
transactions a second. Every write is conditional on the row still being claimed by this
worker: a worker whose claim expired (it stalled; another worker took the message) never
overwrites the newer attempt.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text, update

from ovenai.db import Database
from ovenai.models import Message, MessageStatus

log = logging.getLogger("ovenai.outbox")
_TABLE: Any = Message.__table__
_T = _TABLE.c


class Kind(enum.StrEnum):
    """What became of a claimed message."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One claimed message's result. ``refund``: the attempt does not count (held back)."""

    message_id: str
    kind: Kind
    at: datetime
    wa_message_id: str | None = None
    next_attempt_at: datetime | None = None
    error_code: int | None = None
    error_title: str | None = None
    error_detail: str | None = None
    refund: bool = False


def _mine() -> Any:
    return (_T.id == bindparam("b_id")) & (_T.claimed_by == bindparam("b_worker"))


_RELEASED: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
_ERROR: dict[str, Any] = {
    "error_code": bindparam("b_code"),
    "error_title": bindparam("b_title"),
    "error_detail": bindparam("b_detail"),
}
_AT: dict[str, Any] = {"status_at": bindparam("b_at"), "updated_at": bindparam("b_at")}

STATEMENTS = {
    Kind.SENT: update(_TABLE)
    .where(_mine())
    .values(
        status=MessageStatus.SENT,
        sent_at=bindparam("b_at"),
        wa_message_id=bindparam("b_wamid"),
        error_code=None,
        error_title=None,
        error_detail=None,
        **_AT,
        **_RELEASED,
    ),
    Kind.RETRY: update(_TABLE)
    .where(_mine())
    .values(
        status=MessageStatus.QUEUED,
        next_attempt_at=bindparam("b_next"),
        attempts=_T.attempts - bindparam("b_refund"),
        **_ERROR,
        **_AT,
        **_RELEASED,
    ),
    Kind.FAILED: update(_TABLE)
    .where(_mine())
    .values(status=MessageStatus.FAILED, failed_at=bindparam("b_at"), **_ERROR, **_AT, **_RELEASED),
}


# The same as STATEMENTS[Kind.SENT], for a whole group in one statement of three arrays.
SENT_FROM_ARRAYS = text(
    """
    UPDATE messages SET status = :status, sent_at = v.at, wa_message_id = v.wamid,
        error_code = NULL, error_title = NULL, error_detail = NULL,
        status_at = v.at, updated_at = v.at, claimed_by = NULL, claimed_until = NULL
    FROM unnest(CAST(:ids AS varchar[]), CAST(:ats AS timestamptz[]), CAST(:wamids AS varchar[]))
        AS v(id, at, wamid)
    WHERE messages.id = v.id AND messages.claimed_by = :worker
    """
)


def _sent_arrays(outcomes: Sequence[Outcome], worker: str) -> dict[str, Any]:
    return {
        "status": MessageStatus.SENT.value,
        "ids": [outcome.message_id for outcome in outcomes],
        "ats": [outcome.at for outcome in outcomes],
        "wamids": [outcome.wa_message_id for outcome in outcomes],
        "worker": worker,
    }


def _params(outcome: Outcome, worker: str) -> dict[str, Any]:
    return {
        "b_id": outcome.message_id,
        "b_worker": worker,
        "b_at": outcome.at,
        "b_wamid": outcome.wa_message_id,
        "b_next": outcome.next_attempt_at,
        "b_refund": 1 if outcome.refund else 0,
        "b_code": outcome.error_code,
        "b_title": (outcome.error_title or "")[:300] or None,
        "b_detail": outcome.error_detail,
    }


async def write(db: Database, worker: str, outcomes: Sequence[Outcome]) -> None:
    """Store outcomes in one transaction (one executemany per kind)."""
    groups: dict[Kind, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.kind, []).append(outcome)
    async with db.session() as session:
        for kind, group in groups.items():
            if kind is Kind.SENT and db.dialect == "postgresql":
                await session.execute(SENT_FROM_ARRAYS, _sent_arrays(group, worker))
            else:
                await session.execute(STATEMENTS[kind], [_params(o, worker) for o in group])
        await session.commit()


class Recorder:
    """Buffers outcomes and writes them every ``interval_s`` (or at ``max_batch``)."""

    def __init__(
        self, db: Database, worker: str, *, interval_s: float = 0.02, max_batch: int = 500
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
                await asyncio.sleep(0.5)
        while self._buffer:
            await self.flush()

    async def wait_idle(self) -> None:
        """Until everything added so far is written."""
        await self._idle.wait()
