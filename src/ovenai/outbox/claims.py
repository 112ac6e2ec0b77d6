"""Claiming queued messages for one worker, and reading them back into sendable jobs.

A claim is one conditional UPDATE: due ``queued`` rows (and ``sending`` rows whose claim
expired: their worker died) become ``sending``, owned by this worker until
``claimed_until``, with ``attempts`` counted *before* the call. On PostgreSQL the candidate
rows are locked with ``FOR UPDATE SKIP LOCKED`` so workers on several machines share one
queue without waiting on each other; on SQLite ``BEGIN IMMEDIATE`` serialises the one worker.

A message is never claimed while an earlier due message to the same lead is still queued or
sending, so messages to one lead leave in the order they were queued (one in flight per lead).
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, exists, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ovenai.errors import CryptoError
from ovenai.keystore import RowCipher, Vault
from ovenai.models import Direction, Lead, Message, MessageStatus
from ovenai.outbox import rules

IN_QUEUE = (MessageStatus.QUEUED.value, MessageStatus.SENDING.value)
YIELD_EVERY = 50  # jobs decrypted between two turns of the event loop


@dataclass(slots=True)
class Job:
    """A claimed message, decrypted and ready to hand to the Cloud API client."""

    id: str
    lead_id: str
    kind: str
    attempts: int
    category: str | None = None
    template_name: str | None = None
    template_language: str | None = None
    text: str | None = None
    body_params: list[str] | dict[str, str] = field(default_factory=list)
    header_params: list[str] = field(default_factory=list)
    preview_url: bool = False
    to: str | None = None
    recipient: str | None = None
    window_open: bool = False
    problem: str | None = None  # why it must fail without a call (rules changed meanwhile)
    send_by: float = math.inf  # event-loop time after which it must not be sent on this claim

    @property
    def business_initiated(self) -> bool:
        """A template outside the service window: it counts toward the messaging limit."""
        return self.kind == "template" and not self.window_open


def _due(now: datetime) -> Any:
    queued = and_(Message.status == MessageStatus.QUEUED, Message.next_attempt_at <= now)
    expired = and_(Message.status == MessageStatus.SENDING, Message.claimed_until < now)
    return or_(queued, expired)


def _blocked(now: datetime) -> Any:
    earlier = aliased(Message)
    # The status test goes through an expression so that the planner always probes the
    # per-lead index: with stale statistics after a burst of sends, PostgreSQL otherwise
    # scans every queued row once per candidate (seen: 20,000 queued rows, claims of minutes).
    return exists().where(
        earlier.lead_id == Message.lead_id,
        func.lower(earlier.status).in_(IN_QUEUE),
        or_(earlier.send_after.is_(None), earlier.send_after <= now),
        tuple_(earlier.created_at, earlier.id) < tuple_(Message.created_at, Message.id),
    )


def claim_statement(dialect: str, *, worker: str, limit: int, ttl_s: float, now: datetime) -> Any:
    """The conditional UPDATE that claims up to ``limit`` due messages for ``worker``."""
    candidates = (
        select(Message.id)
        .where(Message.direction == Direction.OUTBOUND, _due(now), ~_blocked(now))
        .order_by(Message.next_attempt_at, Message.created_at)
        .limit(limit)
    )
    if dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    return (
        update(Message)
        .where(Message.id.in_(candidates.scalar_subquery()))
        .values(
            status=MessageStatus.SENDING,
            claimed_by=worker,
            claimed_until=now + timedelta(seconds=ttl_s),
            attempts=Message.attempts + 1,
            updated_at=now,
        )
        .returning(
            Message.id,
            Message.lead_id,
            Message.type,
            Message.attempts,
            Message.category,
            Message.template_name,
            Message.template_language,
            Message.text_enc,
            Message.template_params_enc,
            Message.payload_enc,
        )
        .execution_options(synchronize_session=False)
    )


async def claim(
    session: AsyncSession, *, worker: str, limit: int, ttl_s: float, now: datetime
) -> list[Row[Any]]:
    """Claim due messages (caller commits); the claimed rows, oldest first."""
    dialect = session.get_bind().dialect.name
    statement = claim_statement(dialect, worker=worker, limit=limit, ttl_s=ttl_s, now=now)
    return list(await session.execute(statement))


async def load_jobs(
    session: AsyncSession, vault: Vault, rows: list[Row[Any]], now: datetime
) -> list[Job]:
    """Decrypt the claimed rows and their leads' addresses into jobs."""
    if not rows:
        return []
    lead_ids = list({row.lead_id for row in rows})
    query = select(
        Lead.id,
        Lead.phone_enc,
        Lead.bsuid_enc,
        Lead.opted_out_at,
        Lead.last_inbound_at,
        Lead.erased_at,
    ).where(Lead.id.in_(lead_ids))
    found: Any = await session.execute(query)
    leads: dict[str, Row[Any]] = {lead.id: lead for lead in found}
    keys = await _keys(vault, lead_ids)
    jobs: list[Job] = []
    for row in rows:
        if len(jobs) % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)  # let the sends due meanwhile start at their slots
        jobs.append(_job(row, leads.get(row.lead_id), keys.get(row.lead_id), now))
    return jobs


async def _keys(vault: Vault, lead_ids: list[str]) -> dict[str, bytes]:
    try:
        return await vault.lead_keys(lead_ids)
    except CryptoError:  # some lead was erased (its key destroyed): find which
        found: dict[str, bytes] = {}
        for lead_id in lead_ids:
            try:
                found[lead_id] = await vault.key("lead", lead_id)
            except CryptoError:
                continue
        return found


def _job(row: Row[Any], lead: Row[Any] | None, key: bytes | None, now: datetime) -> Job:
    job = Job(id=row.id, lead_id=row.lead_id, kind=row.type, attempts=row.attempts)
    if lead is None or key is None or lead.erased_at is not None:
        job.problem = "the lead was erased"
        return job
    _fill_content(job, row, RowCipher(key, "messages", row.id))
    _fill_address(job, lead, RowCipher(key, "leads", lead.id), now)
    return job


def _fill_content(job: Job, row: Row[Any], cipher: RowCipher) -> None:
    payload = json.loads(cipher.open("payload", row.payload_enc) or "{}")
    job.category = row.category
    if job.kind == "text":
        job.text = cipher.open("text", row.text_enc)
        job.preview_url = bool(payload.get("preview_url", False))
        return
    job.template_name, job.template_language = row.template_name, row.template_language
    job.body_params = json.loads(cipher.open("template_params", row.template_params_enc) or "[]")
    job.header_params = list(payload.get("header_params") or [])


def _fill_address(job: Job, lead: Row[Any], cipher: RowCipher, now: datetime) -> None:
    job.window_open = rules.window_open(lead.last_inbound_at, now)
    try:
        address = rules.recipient_of(
            cipher.open("phone", lead.phone_enc), cipher.open("bsuid", lead.bsuid_enc)
        )
    except rules.NoWhatsAppIdentity as exc:
        job.problem = exc.message
        return
    job.to, job.recipient = address.to, address.recipient
    if job.kind == "text" and not job.window_open:
        job.problem = rules.OutsideServiceWindow(lead.last_inbound_at).message
    elif lead.opted_out_at is not None and (job.category or "").upper() == rules.MARKETING:
        job.problem = rules.LeadOptedOut(job.template_name or "template").message
