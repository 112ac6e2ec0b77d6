"""Failed items: what of a stored body could not be read, recorded, listed and replayed.

An item the parser cannot read (an entry without ``changes``, a message without an ``id``, a
status field of an unexpected type) becomes one :class:`~ovenai.events.UnreadableItem` while
its sound siblings apply as usual. Each processing of a body records its unreadable items in
``webhook_item_failures``, in the same transaction as the sound ones, replacing what the
previous processing recorded: an item read now clears its failure, one still unreadable keeps
the time it was first seen. Rows are per body (a copy of a body that Meta delivered twice is
a body of its own), one per place in it. A body whose items are all unreadable ends
``failed``; one that is not a webhook at all fails as before, with no item rows.

No personal data is kept: the item, the change field, where in the body (``path``) and the
parser's problem, which names paths and types. The item itself stays in the sealed body, which
a replay (:func:`requeue_failed`) reads again, so a version that reads more recovers what an
older one could not; the dedupe keys keep what applied before from applying twice.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import bulk_sql, dialects
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.errors import PermissionDenied
from ovenai.events import UnreadableItem, WebhookEvent
from ovenai.ingest import backlog
from ovenai.models import WebhookEvent as StoredBody
from ovenai.models import WebhookItemFailure

log = logging.getLogger("ovenai.ingest.failures")

_CHUNK = 500
_SHOWN_IN_SUMMARY = 3
_ERROR_SHOWN = 300
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
Sighting = tuple[str, str, str, str]
"""One failure as stored: (item, field, path, problem), clipped to the columns."""


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """One item of a body that could not be read: what, where, why, and since when."""

    item: str
    field: str
    path: str
    problem: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class FailedBody:
    """A stored body that failed, or that has items that could not be read."""

    id: str
    received_at: datetime
    status: str
    error: str | None
    items: list[ItemFailure]


@dataclass(frozen=True, slots=True)
class Requeued:
    """What a replay of the failures made pending again."""

    failed: int
    with_failed_items: int


@dataclass(frozen=True, slots=True)
class Standing:
    """How many bodies are failed, and how many items of bodies could not be read."""

    failed_bodies: int
    failed_items: int


def unreadable_items(items: Iterable[WebhookEvent]) -> list[UnreadableItem]:
    """The unreadable items among a body's events, in document order."""
    return [item for item in items if isinstance(item, UnreadableItem)]


def nothing_readable(items: Sequence[WebhookEvent]) -> bool:
    """Whether a body has items and every one is unreadable: nothing of it can apply."""
    return bool(items) and all(isinstance(item, UnreadableItem) for item in items)


def summary(items: Sequence[WebhookEvent]) -> str:
    """The error of a body nothing of which could be read: how many items, the first few."""
    found = unreadable_items(items)
    shown = "; ".join(
        f"{i.item} at {i.path}: {redacted(i.problem)}" for i in found[:_SHOWN_IN_SUMMARY]
    )
    more = len(found) - _SHOWN_IN_SUMMARY
    rest = f"; and {more} more" if more > 0 else ""
    count = f"{len(found)} item{'' if len(found) == 1 else 's'}"
    return f"UnreadableItem: nothing in the body could be read ({count}): {shown}{rest}"


def redacted(problem: str) -> str:
    """The parser's problem without the values it quotes (``'...'``, ``"..."``).

    msgspec names paths and types in backticks, but a plain ValueError quotes the odd value
    (``invalid literal for int(): '0501234567'``), which may be personal data: stored and
    logged problems keep the words and drop the value.
    """
    return _QUOTED.sub("'…'", problem)


def _sighting(item: UnreadableItem) -> Sighting:
    return (item.item[:32], item.field[:64], item.path[:255], redacted(item.problem)[:1000])


async def record(
    session: AsyncSession,
    found: Mapping[str, Sequence[WebhookEvent]],
    *,
    none_recorded: Collection[str] = (),
) -> None:
    """Make each body's failure rows what this processing found in it (same transaction).

    ``none_recorded``: bodies known to have no rows yet (the claim says so), whose rows
    are not read back; a batch of sound bodies met for the first time costs no statement.
    """
    seen = {
        event_id: dict.fromkeys(_sighting(i) for i in unreadable_items(items))
        for event_id, items in found.items()
    }
    reread = [event_id for event_id in seen if event_id not in none_recorded]
    stored = await _stored(session, reread) if reread else {}
    now = utcnow()
    again = {key: row_id for key, row_id in stored.items() if key[1] in seen[key[0]]}
    await _delete(session, [row_id for key, row_id in stored.items() if key not in again])
    await _touch(session, list(again.values()), now)
    new = [(e, s) for e, sightings in seen.items() for s in sightings if (e, s) not in again]
    await _insert(session, new, now)


async def _stored(session: AsyncSession, event_ids: list[str]) -> dict[tuple[str, Sighting], str]:
    """The failure rows already recorded for these bodies: row id by (body, sighting)."""
    query = _recorded(bulk_sql.postgresql(session))
    stored: dict[tuple[str, Sighting], str] = {}
    for chunk in _chunks(event_ids):
        for row in (await session.execute(query, {"ids": chunk})).all():
            stored[(row.event_id, (row.item, row.field, row.path, row.problem))] = row.id
    return stored


@functools.cache
def _recorded(postgresql: bool) -> Select[Any]:
    """The failure rows of the bodies listed as ``ids`` (run for every batch processed)."""
    table = cast(Table, WebhookItemFailure.__table__)
    columns = [table.c[name] for name in ("id", "event_id", "item", "field", "path", "problem")]
    return select(*columns).where(
        dialects.one_of_parameter(table.c.event_id, "ids", postgresql=postgresql)
    )


async def _delete(session: AsyncSession, row_ids: list[str]) -> None:
    for chunk in _chunks(row_ids):
        await session.execute(delete(WebhookItemFailure).where(WebhookItemFailure.id.in_(chunk)))


async def _touch(session: AsyncSession, row_ids: list[str], now: datetime) -> None:
    for chunk in _chunks(row_ids):
        statement = update(WebhookItemFailure).where(WebhookItemFailure.id.in_(chunk))
        await session.execute(statement.values(last_seen=now))


async def _insert(session: AsyncSession, new: list[tuple[str, Sighting]], now: datetime) -> None:
    for event_id, (item, field, path, problem) in new:
        log.warning(
            "webhook body %s: %s %s at %s unreadable: %s", event_id, field, item, path, problem
        )
    rows = [
        {"id": new_id(), "event_id": event_id, "item": item, "field": field, "path": path}
        | {"problem": problem, "first_seen": now, "last_seen": now}
        for event_id, (item, field, path, problem) in new
    ]
    for chunk in _chunks(rows):
        await session.execute(insert(WebhookItemFailure), chunk)


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    return (values[start : start + _CHUNK] for start in range(0, len(values), _CHUNK))


def _with_failed_items() -> ColumnElement[bool]:
    return StoredBody.id.in_(select(WebhookItemFailure.event_id))


def _received_since(since: datetime | None) -> ColumnElement[bool]:
    return StoredBody.received_at >= since if since is not None else true()


async def failed_bodies(
    db: Database, *, actor: Actor, since: datetime | None = None, limit: int = 200
) -> list[FailedBody]:
    """Bodies that failed or have failed items, newest first, with their failures (admins)."""
    if not actor.is_admin:
        raise PermissionDenied("only admins may read the webhook failures")
    async with db.reading() as session:
        return await list_failed(session, since=since, limit=limit)


async def list_failed(
    session: AsyncSession, *, since: datetime | None = None, limit: int = 200
) -> list[FailedBody]:
    """Bodies that failed or have failed items, newest first, with their failures."""
    body = StoredBody
    query = (
        select(body.id, body.received_at, body.status, body.error)
        .where(or_(body.status == "failed", _with_failed_items()), _received_since(since))
        .order_by(body.received_at.desc(), body.id.desc())
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    items = await _failures_of(session, [row.id for row in rows])
    return [
        FailedBody(
            row.id, row.received_at, row.status, _first_line(row.error), items.get(row.id, [])
        )
        for row in rows
    ]


async def _failures_of(session: AsyncSession, event_ids: list[str]) -> dict[str, list[ItemFailure]]:
    """Each body's failures, in the order of their place in the body."""
    table = WebhookItemFailure
    found: dict[str, list[ItemFailure]] = {}
    for chunk in _chunks(event_ids):
        for row in await session.scalars(select(table).where(table.event_id.in_(chunk))):
            found.setdefault(row.event_id, []).append(_failure(row))
    for failures in found.values():
        failures.sort(key=lambda f: (_place(f.path), f.item, f.problem))
    return found


def _failure(row: WebhookItemFailure) -> ItemFailure:
    return ItemFailure(row.item, row.field, row.path, row.problem, row.first_seen, row.last_seen)


def _place(path: str) -> list[str | int]:
    """A path's sort key: its indexes compared as numbers (``[2]`` before ``[10]``)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def _first_line(error: str | None) -> str | None:
    """A body's error as shown: its first line only (a database error's next lines carry
    the statement's parameters)."""
    return error.splitlines()[0][:_ERROR_SHOWN] if error else error


async def requeue_failed(session: AsyncSession, since: datetime | None = None) -> Requeued:
    """Make pending again every failed body and every processed one with failed items."""
    failed = await backlog.requeue_where(
        session, and_(StoredBody.status == "failed", _received_since(since))
    )
    partial = await backlog.requeue_where(
        session,
        and_(StoredBody.status == "processed", _with_failed_items(), _received_since(since)),
    )
    return Requeued(failed=failed, with_failed_items=partial)


async def standing(session: AsyncSession) -> Standing:
    """How many bodies are failed, and how many items could not be read, right now."""
    failed = select(func.count()).where(StoredBody.status == "failed")
    items = select(func.count()).select_from(WebhookItemFailure)
    return Standing(
        failed_bodies=int(await session.scalar(failed) or 0),
        failed_items=int(await session.scalar(items) or 0),
    )
