"""Delivery statuses applied in batches, forward only (docs/whatsapp-api-notes.md, "Ranking").

Every status is first recorded once per (wamid, status) in ``status_events`` (insert if
absent: Meta's re-sends change nothing). Each affected outbound message is then set to the
state DERIVED FROM ALL of its recorded statuses (:func:`derive`): the highest-ranked status
wins, ``read``/``played`` imply ``delivered``, a ``failed`` keeps Meta's error even when a
later delivery wins. Being a function of the set, the result is the same whatever the
order or repetition in which statuses arrive. A status for a wamid we do not know yet
stays unapplied until the message appears (:func:`apply_waiting`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects
from ovenai.columns import utcnow
from ovenai.events import StatusUpdate
from ovenai.hooks import StatusChange
from ovenai.ingest.apply.status_rank import status_rank
from ovenai.ingest.parse.dedupe_keys import status_key
from ovenai.models import AppliedItem, Direction, Message, StatusEvent

_MESSAGES = cast(Table, Message.__table__)
_EVENTS = cast(Table, StatusEvent.__table__)
_CHUNK = 500
_STATE_FIELDS = (
    "status",
    "status_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "error_code",
    "error_title",
    "error_detail",
)


@dataclass(frozen=True, slots=True)
class Recorded:
    """One recorded status of a message."""

    status: str
    at: datetime
    error_code: int | None = None
    error_title: str | None = None
    error_detail: str | None = None


def derive(current: dict[str, Any], recorded: Iterable[Recorded]) -> dict[str, Any]:
    """The message state after its recorded statuses (by rank): a pure function of the set."""
    by_status = {item.status: item for item in recorded}
    state = dict(current)
    ranked = [item for item in by_status.values() if status_rank(item.status) > 0]
    if ranked:
        best = max(ranked, key=lambda item: (status_rank(item.status), item.at))
        if status_rank(best.status) > status_rank(current["status"]):
            state["status"], state["status_at"] = best.status, best.at
    _stamp(state, "sent_at", by_status, "sent")
    _stamp(state, "delivered_at", by_status, "delivered", "read", "played")
    _stamp(state, "read_at", by_status, "read", "played")
    failed = by_status.get("failed")
    if failed is not None:
        state["failed_at"] = failed.at
        state["error_code"] = failed.error_code
        state["error_title"] = failed.error_title
        state["error_detail"] = failed.error_detail
    return state


def _stamp(state: dict[str, Any], column: str, by_status: dict[str, Recorded], *names: str) -> None:
    """Time a step by its own status, else by the first status that implies it."""
    for name in names:
        if name in by_status:
            state[column] = by_status[name].at
            return


def _row(update_: StatusUpdate) -> dict[str, Any]:
    error = update_.errors[0] if update_.errors else None
    return {
        "wa_message_id": update_.message_id,
        "status": update_.status_raw[:16],
        "at": update_.timestamp,
        "error_code": None if error is None else error.code,
        "error_title": None if error is None else (error.title or error.message or "")[:300],
        "error_detail": None if error is None else error.details,
        "received_at": utcnow(),
        "applied": False,
    }


def _insert_absent(session: AsyncSession) -> Any:
    return dialects.insert(session, _EVENTS).on_conflict_do_nothing(
        index_elements=["wa_message_id", "status"]
    )


async def record_statuses(session: AsyncSession, updates: Sequence[StatusUpdate]) -> int:
    """Record each (wamid, status) once; returns how many were new.

    The absent ones are found with one SELECT and written with one executemany (its
    statement is compiled once and cached; a multi-row VALUES would be compiled anew for
    every batch size). ON CONFLICT DO NOTHING covers a concurrent process.
    """
    rows = {(u.message_id, u.status_raw[:16]): u for u in updates}
    wamids = sorted({wamid for wamid, _ in rows})
    known: set[tuple[str, str]] = set()
    for start in range(0, len(wamids), _CHUNK):
        chunk = wamids[start : start + _CHUNK]
        query = select(_EVENTS.c.wa_message_id, _EVENTS.c.status)
        found = await session.execute(query.where(_EVENTS.c.wa_message_id.in_(chunk)))
        known.update((wamid, status) for wamid, status in found.all())
    new = [_row(update_) for key, update_ in rows.items() if key not in known]
    if new:
        await session.execute(_insert_absent(session), new)
    return len(new)


@dataclass
class Refreshed:
    """What re-deriving some messages did: status changes, and each found wamid's lead."""

    changes: list[StatusChange] = field(default_factory=list)
    leads: dict[str, str] = field(default_factory=dict)
    new: int = 0


async def apply_statuses(session: AsyncSession, updates: Sequence[StatusUpdate]) -> Refreshed:
    """Record statuses and move their messages forward."""
    if not updates:
        return Refreshed()
    new = await record_statuses(session, updates)
    refreshed = await refresh_messages(session, {u.message_id for u in updates})
    refreshed.new = new
    return refreshed


async def refresh_messages(session: AsyncSession, wamids: set[str]) -> Refreshed:
    """Re-derive the state of the outbound messages with these wamids from their statuses."""
    refreshed = Refreshed()
    ordered = sorted(wamids)
    for start in range(0, len(ordered), _CHUNK):
        await _refresh_chunk(session, ordered[start : start + _CHUNK], refreshed)
    return refreshed


async def _refresh_chunk(session: AsyncSession, wamids: list[str], into: Refreshed) -> None:
    """Derive and write the state of these messages. On PostgreSQL their rows are locked
    first (in id order), and their statuses read only then: a process that applied other
    statuses of them meanwhile has committed, so its state and statuses are seen here and
    never written over with a state derived before it (SQLite runs one writer at a time)."""
    columns = [_MESSAGES.c[name] for name in ("id", "lead_id", "wa_message_id", *_STATE_FIELDS)]
    query = select(*columns).where(
        _MESSAGES.c.wa_message_id.in_(wamids), _MESSAGES.c.direction == Direction.OUTBOUND
    )
    if dialects.is_postgresql(session):
        query = query.order_by(_MESSAGES.c.id).with_for_update()
    messages = [dict(row._mapping) for row in (await session.execute(query)).all()]
    if not messages:
        return
    found = [m["wa_message_id"] for m in messages]
    recorded = await _recorded(session, found)
    updates = []
    for current in messages:
        into.leads[current["wa_message_id"]] = current["lead_id"]
        state = derive(current, recorded[current["wa_message_id"]])
        if state != current:
            updates.append({"b_id": current["id"], **{f"b_{k}": state[k] for k in _STATE_FIELDS}})
        if state["status"] != current["status"]:
            into.changes.append(_change(current, state))
    await _write(session, updates, found)


async def _recorded(session: AsyncSession, wamids: list[str]) -> dict[str, list[Recorded]]:
    columns = [_EVENTS.c[name] for name in ("wa_message_id", "status", "at", "error_code")]
    columns += [_EVENTS.c.error_title, _EVENTS.c.error_detail]
    rows = (
        await session.execute(select(*columns).where(_EVENTS.c.wa_message_id.in_(wamids)))
    ).all()
    grouped: dict[str, list[Recorded]] = defaultdict(list)
    for wamid, *rest in rows:
        grouped[wamid].append(Recorded(*rest))
    return grouped


async def _write(session: AsyncSession, updates: list[dict[str, Any]], wamids: list[str]) -> None:
    if updates:
        values: dict[str, Any] = {name: bindparam(f"b_{name}") for name in _STATE_FIELDS}
        statement = update(_MESSAGES).where(_MESSAGES.c.id == bindparam("b_id")).values(values)
        await session.execute(statement, updates)
    mark = update(_EVENTS).where(_EVENTS.c.wa_message_id.in_(wamids), _EVENTS.c.applied.is_(False))
    await session.execute(mark.values(applied=True))


def _change(current: dict[str, Any], state: dict[str, Any]) -> StatusChange:
    return StatusChange(
        message_id=current["id"],
        lead_id=current["lead_id"],
        wa_message_id=current["wa_message_id"],
        previous=current["status"],
        status=state["status"],
        at=state["status_at"],
        error_code=state["error_code"],
    )


async def apply_waiting(session: AsyncSession, limit: int = _CHUNK) -> Refreshed:
    """Apply recorded statuses whose message has appeared since (sent after the status came)."""
    query = (
        select(_EVENTS.c.wa_message_id)
        .join(_MESSAGES, _MESSAGES.c.wa_message_id == _EVENTS.c.wa_message_id)
        .where(_EVENTS.c.applied.is_(False))
        .distinct()
        .limit(limit)
    )
    wamids = set((await session.scalars(query)).all())
    return await refresh_messages(session, wamids)


# A status waits for its message only as long as the send's answer can take to be recorded
# (seconds). One still waiting after this never finds its message: the send died before its
# wamid was recorded (the message was sent again, under another wamid), or the message's
# lead was erased (its wamids forgotten). Such statuses are pruned, with their dedupe keys,
# so that a wamid — which carries the user's number — is not kept in the clear for long.
WAITING_LIMIT = timedelta(hours=24)


async def prune_waiting(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Delete statuses that have waited longer than :data:`WAITING_LIMIT`; how many went."""
    cutoff = (now or utcnow()) - WAITING_LIMIT
    stale = (_EVENTS.c.applied.is_(False)) & (_EVENTS.c.received_at < cutoff)
    wamids = list(await session.scalars(select(_EVENTS.c.wa_message_id).where(stale).distinct()))
    if not wamids:
        return 0
    pruned = 0
    for start in range(0, len(wamids), _CHUNK):
        chunk = wamids[start : start + _CHUNK]
        keys = [
            AppliedItem.dedupe_key.startswith(status_key(wamid, ""), autoescape=True)
            for wamid in chunk
        ]
        await session.execute(delete(AppliedItem).where(or_(*keys)))
        result = await session.execute(
            delete(StatusEvent).where(StatusEvent.wa_message_id.in_(chunk), stale)
        )
        pruned += dialects.rowcount(result)
    return pruned
