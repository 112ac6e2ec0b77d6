"""Applying the parsed items of a batch of stored bodies, exactly once, in one transaction.

Exactly-once: every item except statuses claims its dedupe key in ``applied_items`` with
INSERT ... ON CONFLICT DO NOTHING RETURNING, in the same transaction as its effects; only
the keys this transaction inserted are applied. (A concurrent transaction inserting the
same key waits for ours and then gets nothing back.) Statuses are made exactly-once by
the ``status_events`` primary key instead, and their effect is idempotent anyway. An
unreadable item applies nothing and claims no key: it is counted here and recorded with its
body (:mod:`ovenai.ingest.failures`), and a replay that reads it applies it then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects, hooks
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
from ovenai.ingest.apply.inbound_messages import apply_inbound
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
    """Counts of what a batch did: by item kind; unreadable items by (item, change field)."""

    applied: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    unreadable: Counter[tuple[str, str]] = field(default_factory=Counter)


def _kind(item: WebhookEvent) -> str:
    return type(item).__name__


async def claim_keys(session: AsyncSession, owners: dict[str, str]) -> set[str]:
    """Insert the dedupe keys not applied before; return those this transaction now owns."""
    rows = [
        {"dedupe_key": k[:200], "event_id": e, "applied_at": utcnow()} for k, e in owners.items()
    ]
    owned: set[str] = set()
    table = cast(Table, AppliedItem.__table__)
    for start in range(0, len(rows), _CHUNK):
        insert = dialects.insert(session, table).values(rows[start : start + _CHUNK])
        statement = insert.on_conflict_do_nothing().returning(table.c.dedupe_key)
        owned.update((await session.scalars(statement)).all())
    return owned


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
    for body in bodies:
        for item in body.items:
            lead_id = await _apply_item(session, vault, item, owned, outcome)
            if lead_id is not None:
                leads.add((body.event_id, lead_id))
    leads |= await _apply_status_items(session, bodies, outcome)
    await _link_leads(session, leads)
    return outcome


async def _apply_item(
    session: AsyncSession, vault: Vault, item: WebhookEvent, owned: set[str], outcome: Outcome
) -> str | None:
    """Apply one non-status item if this transaction owns its key; the lead it concerned."""
    if isinstance(item, StatusUpdate | IgnoredChange):
        return None
    if isinstance(item, UnreadableItem):
        outcome.unreadable[(item.item, item.field)] += 1
        return None
    if item.dedupe_key[:200] not in owned:
        outcome.duplicates[_kind(item)] += 1
        return None
    owned.discard(item.dedupe_key[:200])  # the same item twice in one batch: once only
    outcome.applied[_kind(item)] += 1
    if isinstance(item, InboundMessage):
        lead, message = await apply_inbound(session, vault, item)
        await session.flush()
        await hooks.run_after_inbound(session, lead, message, item)
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
    await session.execute(dialects.insert(session, table).on_conflict_do_nothing(), rows)
