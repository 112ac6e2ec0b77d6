"""The audit log: who viewed, exported, erased or changed which lead, and when.

Append-only by construction: this module only inserts and reads; nothing updates an entry,
and only retention deletes old ones. Entries never carry personal data of leads (subjects
are named by id); staff are named by e-mail, which is what an auditor needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.errors import PermissionDenied
from ovenai.models import AuditEntry


@dataclass(frozen=True)
class AuditRecord:
    """One audit entry as admins read it."""

    id: str
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str | None
    details: dict[str, object] | None


def record(
    session: AsyncSession,
    *,
    actor: Actor | str,
    action: str,
    subject_type: str,
    subject_id: str | None = None,
    details: dict[str, object] | None = None,
) -> None:
    """Add an entry to the caller's transaction (it lands only if the action does)."""
    label = actor if isinstance(actor, str) else actor.email
    actor_id = None if isinstance(actor, str) else actor.user_id
    session.add(
        AuditEntry(
            actor_id=actor_id,
            actor_label=label,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            details=json.dumps(details, ensure_ascii=False) if details else None,
        )
    )


def _open(entry: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=entry.id,
        at=entry.at,
        actor=entry.actor_label,
        action=entry.action,
        subject_type=entry.subject_type,
        subject_id=entry.subject_id,
        details=json.loads(entry.details) if entry.details else None,
    )


async def about(session: AsyncSession, subject_id: str) -> list[AuditRecord]:
    """Every entry about one subject, oldest first."""
    query = select(AuditEntry).where(AuditEntry.subject_id == subject_id)
    return [_open(e) for e in await session.scalars(query.order_by(AuditEntry.at, AuditEntry.id))]


async def read_log(
    db: Database, *, actor: Actor, subject_id: str | None = None, limit: int = 200
) -> list[AuditRecord]:
    """The newest entries (optionally about one subject); admins only."""
    if not actor.is_admin:
        raise PermissionDenied("only admins may read the audit log")
    query = select(AuditEntry)
    if subject_id:
        query = query.where(AuditEntry.subject_id == subject_id)
    async with db.reading() as session:
        rows = await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit))
        return [_open(entry) for entry in rows]
