"""Applying the parsed items of a batch of stored bodies, exactly once, in one transaction.

Exactly-once: every item except statuses claims its dedupe key in ``applied_items`` with
INSERT ... ON CONFLICT DO NOTHING RETURNING, in the same transaction as its effects; only
the keys this transaction inserted are applied. (A concurrent transaction inserting the
same key waits for ours and then gets nothing back.) Statuses are made exactly-once by
the ``status_events`` primary key instead, and their effect is idempotent anyway. An
unreadable item applies nothing and claims no key: it is counted here and recorded with its
body (:mod:`ovenai.ingest.failures`), and a replay that reads it applies it then.

Order: items apply in document order. Inbound messages are applied in runs
(:func:`~ovenai.ingest.apply.inbound_messages.apply_inbound_run`: one SELECT of the senders,
one INSERT of the messages); every other item — a message that changes its sender's number
or BSUID, a marketing preference, an account or template change — ends the run before it
and is applied alone at its place, so what follows it sees what it did. Statuses apply last,
together (their result does not depend on order).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import bulk_sql, dialects, hooks, live
from ovenai.columns import utcnow
from ovenai.events import (
    IgnoredChange,
    InboundMessage,
    StatusUpdate,
    UnreadableItem,
    UserPreference,
    WebhookEvent,
)
from ovenai.ingest.apply.account_events import apply_account_side
from ovenai.ingest.apply.consent import apply_preference
from ovenai.ingest.apply.delivery_statuses import apply_statuses
from ovenai.ingest.apply.inbound_messages import apply_inbound, apply_inbound_run, changes_identity
from ovenai.keystore import Vault
from ovenai.models import AppliedItem, WebhookEventLead

_CHUNK = 500
# Items that claim no dedupe key here: statuses have their own table, the rest apply nothing.
_UNCLAIMED = (StatusUpdate, IgnoredChange, UnreadableItem)


@dataclass(frozen=True, slots=True)
class Body:
    """One stored body's id and its parsed items."""

    event_id: str
    items: list[WebhookEvent]


@dataclass
class Outcome:
    """Counts of what a batch did: by item kind; unreadable items by (item, change field);
    inbound messages by type; the delivery statuses outbound messages moved to."""

    applied: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    unreadable: Counter[tuple[str, str]] = field(default_factory=Counter)
    inbound_types: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)


def _kind(item: WebhookEvent) -> str:
    return type(item).__name__


async def claim_keys(session: AsyncSession, owners: dict[str, str]) -> set[str]:
    """Insert the dedupe keys not applied before; return those this transaction now owns.

    One statement of one text for any number of keys (:mod:`ovenai.ingest.bulk_sql`): on
    PostgreSQL the keys and their bodies go as two arrays (``unnest``), on SQLite as the
    rows of an executemany, which SQLAlchemy sends as multi-row INSERTs with RETURNING.
    """
    now = utcnow()
    keys = [(key[:200], event_id) for key, event_id in owners.items()]
    postgresql = bulk_sql.postgresql(session)
    statement = _claiming(postgresql)
    owned: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        if postgresql:
            params: Any = {"keys": [k for k, _ in chunk], "events": [e for _, e in chunk]}
            params["at"] = now
        else:
            params = [{"dedupe_key": k, "event_id": e, "applied_at": now} for k, e in chunk]
        owned.update((await session.execute(statement, params)).scalars().all())
    return owned


@functools.cache
def _claiming(postgresql: bool) -> Any:
    table = cast(Table, AppliedItem.__table__)
    if not postgresql:
        inserting = dialects.insert("sqlite", table)
    else:
        keys = bindparam("keys", type_=ARRAY(table.c.dedupe_key.type))
        events = bindparam("events", type_=ARRAY(table.c.event_id.type))
        pairs = func.unnest(keys, events).table_valued("key", "event").render_derived()
        at = bindparam("at", type_=table.c.applied_at.type)
        rows = select(pairs.c.key, pairs.c.event, at)
        columns = ["dedupe_key", "event_id", "applied_at"]
        inserting = dialects.insert("postgresql", table).from_select(columns, rows)
    return inserting.on_conflict_do_nothing().returning(table.c.dedupe_key)


async def apply_bodies(session: AsyncSession, vault: Vault, bodies: Sequence[Body]) -> Outcome:
    """Apply every item of these bodies once, in order, then the statuses in one batch."""
    outcome = Outcome()
    leads: set[tuple[str, str]] = set()
    owners: dict[str, str] = {}
    for body in bodies:
        for item in body.items:
            if not isinstance(item, _UNCLAIMED):
                owners.setdefault(item.dedupe_key, body.event_id)
    owned = await claim_keys(session, owners) if owners else set()
    run: list[tuple[str, InboundMessage]] = []
    for body in bodies:
        for item in body.items:
            if not _owned(item, owned, outcome):
                continue
            if isinstance(item, InboundMessage) and not changes_identity(item):
                run.append((body.event_id, item))
                continue
            leads |= await _apply_run(session, vault, run)
            run = []
            lead_id = await _apply_item(session, vault, item)
            if lead_id is not None:
                leads.add((body.event_id, lead_id))
    leads |= await _apply_run(session, vault, run)
    leads |= await _apply_status_items(session, bodies, outcome)
    await _link_leads(session, leads)
    await live.announce(session, {lead_id for _, lead_id in leads})
    return outcome


def _owned(item: WebhookEvent, owned: set[str], outcome: Outcome) -> bool:
    """Whether this transaction applies a non-status item now (counted either way)."""
    if isinstance(item, StatusUpdate | IgnoredChange):
        return False
    if isinstance(item, UnreadableItem):
        outcome.unreadable[(item.item, item.field)] += 1
        return False
    if item.dedupe_key[:200] not in owned:
        outcome.duplicates[_kind(item)] += 1
        return False
    owned.discard(item.dedupe_key[:200])  # the same item twice in one batch: once only
    outcome.applied[_kind(item)] += 1
    if isinstance(item, InboundMessage):
        outcome.inbound_types[item.type.value] += 1
    return True


async def _apply_run(
    session: AsyncSession, vault: Vault, run: Sequence[tuple[str, InboundMessage]]
) -> set[tuple[str, str]]:
    """Apply a run of inbound messages together; the (body, lead) pairs they concerned."""
    if not run:
        return set()
    lead_ids = await apply_inbound_run(session, vault, [item for _, item in run])
    return {(event_id, lead_id) for (event_id, _), lead_id in zip(run, lead_ids, strict=True)}


async def _apply_item(session: AsyncSession, vault: Vault, item: WebhookEvent) -> str | None:
    """Apply one item that is not part of a run of messages; the lead it concerned."""
    if isinstance(item, InboundMessage):
        lead, message = await apply_inbound(session, vault, item)
        await session.flush()
        await hooks.run_after_inbound(session, [hooks.Arrival(lead, message, item)])
        return lead.id
    if isinstance(item, UserPreference):
        return (await apply_preference(session, vault, item)).id
    await apply_account_side(session, item)
    return None


async def _apply_status_items(
    session: AsyncSession, bodies: Sequence[Body], outcome: Outcome
) -> set[tuple[str, str]]:
    """Apply all statuses of the batch together; return (body, lead) pairs they concerned."""
    wamids_of = {
        body.event_id: {i.message_id for i in body.items if isinstance(i, StatusUpdate)}
        for body in bodies
    }
    updates = [i for body in bodies for i in body.items if isinstance(i, StatusUpdate)]
    if not updates:
        return set()
    refreshed = await apply_statuses(session, updates)
    outcome.applied["StatusUpdate"] += refreshed.new
    outcome.duplicates["StatusUpdate"] += len(updates) - refreshed.new
    outcome.statuses.update(change.status for change in refreshed.changes)
    await hooks.run_after_status(session, refreshed.changes)
    return {
        (event_id, refreshed.leads[wamid])
        for event_id, wamids in wamids_of.items()
        for wamid in wamids
        if wamid in refreshed.leads
    }


async def _link_leads(session: AsyncSession, pairs: set[tuple[str, str]]) -> None:
    """Remember which leads each body concerned (erasure redacts those bodies)."""
    if not pairs:
        return
    await session.flush()
    table = cast(Table, WebhookEventLead.__table__)
    rows = [{"event_id": event_id, "lead_id": lead_id} for event_id, lead_id in sorted(pairs)]
    await bulk_sql.insert_many(session, table, rows, skip_taken=True)
