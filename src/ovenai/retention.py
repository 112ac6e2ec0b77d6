"""Retention: delete what the policy no longer allows us to keep, a small batch at a time.

The seed's policy, configurable through settings: conversation history 2 years, webhook logs
1 year, message templates kept, lead contact details until the relationship ends (lead won
or lost) plus a grace period, and the audit log 2 years. The daily job runs at 02:00
Asia/Jerusalem. Each batch is its own short transaction, so webhook ingestion (which must
store every body before acknowledging it) never waits long for a lock. The files leads sent
go with their messages (deleted from the media store first), and with an ended lead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from ovenai import cohort_hours, media, response_turns, turn_hours, webhook_hours
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.media_store import MediaStore, store_for
from ovenai.models import (
    AppliedItem,
    AuditEntry,
    Direction,
    Lead,
    Message,
    ResponseTurn,
    StatusEvent,
    WebhookEvent,
)
from ovenai.privacy import erase_lead
from ovenai.settings import Settings

BATCH = 500
RETENTION_ACTOR = Actor(user_id=None, role=Actor.system().role, email="retention")


@dataclass(frozen=True)
class Policy:
    """How long each kind of data is kept."""

    conversations: timedelta
    webhook_logs: timedelta
    audit: timedelta
    lead_grace: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        """The policy the settings configure."""
        return cls(
            conversations=timedelta(days=settings.retention_conversation_days),
            webhook_logs=timedelta(days=settings.retention_webhook_days),
            audit=timedelta(days=settings.retention_audit_days),
            lead_grace=timedelta(days=settings.retention_lead_grace_days),
        )


def _expired(policy: Policy, now: datetime) -> list[tuple[str, Any, Any]]:
    """(table, primary-key column, condition) of every row the policy lets go."""
    return [
        ("messages", Message.id, Message.created_at < now - policy.conversations),
        ("webhook_events", WebhookEvent.id, WebhookEvent.received_at < now - policy.webhook_logs),
        (
            "status_events",
            StatusEvent.wa_message_id,
            StatusEvent.received_at < now - policy.webhook_logs,
        ),
        (
            "applied_items",
            AppliedItem.dedupe_key,
            AppliedItem.applied_at < now - policy.webhook_logs,
        ),
        ("audit_log", AuditEntry.id, AuditEntry.at < now - policy.audit),
    ]


async def _count(db: Database, condition: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).where(condition)) or 0)


async def _delete_in_batches(
    db: Database, key: Any, condition: Any, files: MediaStore | None = None
) -> int:
    deleted = 0
    while True:
        async with db.session() as session:
            ids = list(await session.scalars(select(key).where(condition).limit(BATCH)))
            if not ids:
                return deleted
            if key is Message.id and files is not None:  # their files first, then them
                await media.delete_files(session, files, message_ids=ids)
            if key is Message.id:  # the key figures count these leads' turns again
                leads = select(Message.lead_id).where(Message.id.in_(ids)).distinct()
                await response_turns.mark_stale(session, await session.scalars(leads))
                # ... and the kept hours of the turns that go with these messages.
                turns = select(ResponseTurn.turn_at).where(ResponseTurn.message_id.in_(ids))
                await turn_hours.mark_stale(session, await session.scalars(turns))
                # ... and the cohort of the hours these messages had their outcome in.
                outcomes = select(Message.sent_at, Message.failed_at).where(
                    Message.id.in_(ids), Message.direction == Direction.OUTBOUND
                )
                await cohort_hours.mark_stale(
                    session,
                    (at for row in await session.execute(outcomes) for at in row),
                )
            if key is WebhookEvent.id:  # the key figures bucket these hours again
                arrived = select(WebhookEvent.received_at).where(WebhookEvent.id.in_(ids))
                await webhook_hours.mark_stale(session, await session.scalars(arrived))
            await session.execute(delete(key.class_).where(key.in_(ids)))
            await session.commit()
        deleted += len(ids)


def _ended_leads(policy: Policy, now: datetime) -> Any:
    return (Lead.closed_at < now - policy.lead_grace) & Lead.erased_at.is_(None)


async def _erase_ended_leads(
    db: Database, policy: Policy, now: datetime, files: MediaStore | None = None
) -> int:
    erased = 0
    while True:
        async with db.session() as session:
            ids = list(
                await session.scalars(select(Lead.id).where(_ended_leads(policy, now)).limit(BATCH))
            )
        if not ids:
            return erased
        for lead_id in ids:
            await erase_lead(db, actor=RETENTION_ACTOR, lead_id=lead_id, files=files)
        erased += len(ids)


def _hour_bucket(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H")


async def run(
    db: Database,
    *,
    policy: Policy,
    now: datetime | None = None,
    dry_run: bool = False,
    files: MediaStore | None = None,
) -> dict[str, int]:
    """Delete (or with `dry_run` only count) what expired; returns counts by table.

    ``files`` is the media store: an expired message's file is deleted from it first (without
    it, the row goes with its message and the sealed file stays behind).
    """
    moment = now or utcnow()
    counts: dict[str, int] = {}
    for table, key, condition in _expired(policy, moment):
        counts[table] = await (
            _count(db, condition) if dry_run else _delete_in_batches(db, key, condition, files)
        )
    ended = _ended_leads(policy, moment)
    counts["lead contact details"] = (
        await _count(db, ended) if dry_run else await _erase_ended_leads(db, policy, moment, files)
    )
    cutoff = _hour_bucket(moment - policy.webhook_logs)
    counts["webhook keys"] = await db.vault.destroy_before("webhook", cutoff, dry_run=dry_run)
    return counts


async def daily_job(db: Database, settings: Settings) -> dict[str, int]:
    """The scheduled run (02:00 Asia/Jerusalem)."""
    return await run(db, policy=Policy.from_settings(settings), files=store_for(settings))
