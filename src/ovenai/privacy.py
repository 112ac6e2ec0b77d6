"""Data-subject rights under Israeli privacy law: access/export and erasure, with deadlines.

Export gathers everything held about one person (lead, decrypted conversation, meetings,
consent history, audit entries, requests). Erasure is crypto-shredding plus anonymisation:

1. Record the request (30-day deadline) if it was not recorded before, and mark the lead
   erased: from then on every write of its personal data is refused (410), in every process.
2. Destroy the lead's data key in the key store: from this moment no copy of the lead's
   data — the live database, a replica or a backup — can be decrypted again.
3. Blank every sealed column and blind index of the lead and its messages, meetings and
   consent events, and delete its name-search tokens. Rows stay, so statistics keep
   counting (stage, source, message types and statuses, times).
4. Drop the raw bodies of the webhooks that concerned the lead, then re-key the hours those
   bodies came from (the other bodies of the hour are re-sealed under a new key and the old
   key is destroyed), so backups of the webhook log cannot be read for that hour either.
   The hour still being written is re-keyed once it is over (an hourly job of the worker).
5. Write the audit entry and close the request.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import audit, dialects, phones
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import NotFound, PermissionDenied
from ovenai.models import (
    ConsentEvent,
    Lead,
    LeadNameToken,
    Meeting,
    Message,
    PrivacyRequest,
    SystemFlag,
    WebhookEvent,
    WebhookEventLead,
)
from ovenai.sealing import CONSENT_EVENTS, LEADS, MEETINGS, MESSAGES, WEBHOOK_EVENTS

DEADLINE = timedelta(days=30)
REQUEST_KINDS = ("access", "erasure")
_LEAD_INDEXES = ("phone_index", "bsuid_index", "wa_id_index")


@dataclass(frozen=True)
class RequestRecord:
    """A data-subject request and whether its deadline passed."""

    id: str
    kind: str
    lead_id: str | None
    requested_at: datetime
    due_at: datetime
    completed_at: datetime | None
    requested_by: str
    overdue: bool


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure touched, by table."""

    lead_id: str
    messages: int
    meetings: int
    consent_events: int
    webhook_bodies: int
    rekeyed_hours: int


def require_admin(actor: Actor) -> None:
    """Data-subject requests are handled by admins only."""
    if not actor.is_admin:
        raise PermissionDenied("only admins may handle data-subject requests")


async def find_subject(session: AsyncSession, db: Database, phone: str) -> Lead:
    """The lead behind a phone number in any common form; NotFound otherwise."""
    e164 = phones.normalize(phone)
    query = select(Lead).where(Lead.phone_index == db.vault.index("phone", e164))
    lead = await session.scalar(query)
    if lead is None:
        raise NotFound(f"no lead with phone {e164} (never stored, or already erased)")
    return lead


# The record's fields read as they are from the row: all but the computed `overdue`.
_STORED_REQUEST_FIELDS = tuple(f.name for f in fields(RequestRecord) if f.name != "overdue")


def _open_request(row: PrivacyRequest, now: datetime) -> RequestRecord:
    stored = {name: getattr(row, name) for name in _STORED_REQUEST_FIELDS}
    return RequestRecord(overdue=row.completed_at is None and row.due_at < now, **stored)


async def open_request(
    session: AsyncSession, *, actor: Actor, kind: str, lead_id: str
) -> PrivacyRequest:
    """The open request of this kind for the lead, or a new one due in 30 days."""
    query = select(PrivacyRequest).where(
        PrivacyRequest.kind == kind,
        PrivacyRequest.lead_id == lead_id,
        PrivacyRequest.completed_at.is_(None),
    )
    existing = await session.scalar(query)
    if existing is not None:
        return existing
    now = utcnow()
    row = PrivacyRequest(
        kind=kind,
        lead_id=lead_id,
        requested_at=now,
        due_at=now + DEADLINE,
        requested_by=actor.email,
    )
    session.add(row)
    await session.flush()
    return row


async def record_request(db: Database, *, actor: Actor, kind: str, phone: str) -> RequestRecord:
    """Log a request received today (its 30-day clock starts now) to be handled later."""
    require_admin(actor)
    if kind not in REQUEST_KINDS:
        raise NotFound(f"unknown request kind {kind!r}; use one of {', '.join(REQUEST_KINDS)}")
    async with db.session() as session:
        lead = await find_subject(session, db, phone)
        row = await open_request(session, actor=actor, kind=kind, lead_id=lead.id)
        audit.record(
            session, actor=actor, action=f"request_{kind}", subject_type="lead", subject_id=lead.id
        )
        await session.commit()
        return _open_request(row, utcnow())


async def list_requests(db: Database, *, actor: Actor) -> list[RequestRecord]:
    """Every request, newest first, each marked overdue when its deadline passed undone."""
    require_admin(actor)
    now = utcnow()
    async with db.session() as session:
        rows = await session.scalars(select(PrivacyRequest).order_by(PrivacyRequest.id.desc()))
        return [_open_request(row, now) for row in rows]


async def erase(db: Database, *, actor: Actor, phone: str) -> ErasureReport:
    """Erase everything about the person with this phone (see the module docstring)."""
    require_admin(actor)
    async with db.session() as session:
        lead = await find_subject(session, db, phone)
    return await erase_lead(db, actor=actor, lead_id=lead.id)


async def erase_lead(db: Database, *, actor: Actor, lead_id: str) -> ErasureReport:
    """Erase one lead by id (erasure requests and retention both end here)."""
    async with db.session() as session:
        request = await open_request(session, actor=actor, kind="erasure", lead_id=lead_id)
        # Marked before the key goes: from this commit on every write refuses the lead, in
        # every process, whatever key it has cached (ovenai.leads.lock_unerased).
        await session.execute(update(Lead).where(Lead.id == lead_id).values(erased_at=utcnow()))
        await session.commit()
    await db.vault.destroy("lead", lead_id)
    async with db.session() as session:
        report = await _anonymise(session, lead_id)
        dropped, hours = await _drop_webhook_bodies(session, lead_id)
        request_row = await session.get(PrivacyRequest, request.id)
        assert request_row is not None
        request_row.completed_at = utcnow()
        audit.record(session, actor=actor, action="erase", subject_type="lead", subject_id=lead_id)
        await session.commit()
    rekeyed = await rekey_webhook_hours(db, hours)
    return ErasureReport(lead_id=lead_id, webhook_bodies=dropped, rekeyed_hours=rekeyed, **report)


async def _anonymise(session: AsyncSession, lead_id: str) -> dict[str, int]:
    blanks = LEADS.blanks() | dict.fromkeys(_LEAD_INDEXES)
    await session.execute(
        update(Lead).where(Lead.id == lead_id).values(**blanks, erased_at=utcnow())
    )
    await session.execute(delete(LeadNameToken).where(LeadNameToken.lead_id == lead_id))
    messages = await session.execute(
        update(Message).where(Message.lead_id == lead_id).values(**MESSAGES.blanks())
    )
    meetings = await session.execute(
        update(Meeting).where(Meeting.lead_id == lead_id).values(**MEETINGS.blanks())
    )
    consent = await session.execute(
        update(ConsentEvent)
        .where(ConsentEvent.lead_id == lead_id)
        .values(**CONSENT_EVENTS.blanks())
    )
    return {
        "messages": dialects.rowcount(messages),
        "meetings": dialects.rowcount(meetings),
        "consent_events": dialects.rowcount(consent),
    }


async def _drop_webhook_bodies(session: AsyncSession, lead_id: str) -> tuple[int, set[str]]:
    """Drop the raw bodies that concerned the lead; return how many and their hours."""
    linked = select(WebhookEventLead.event_id).where(WebhookEventLead.lead_id == lead_id)
    query = select(WebhookEvent.id, WebhookEvent.key_bucket).where(
        WebhookEvent.id.in_(linked), WebhookEvent.body_enc.is_not(None)
    )
    rows = (await session.execute(query)).all()
    if rows:
        ids = [row.id for row in rows]
        await session.execute(
            update(WebhookEvent).where(WebhookEvent.id.in_(ids)).values(body_enc=None)
        )
    return len(rows), {row.key_bucket for row in rows}


REKEY_PENDING = "webhook_rekey_pending"
# Writers seal bodies under the hour's key until the hour is over (plus this much for late
# clocks); a key still being written with is never destroyed.
WRITE_GRACE = timedelta(minutes=5)


def _hour_closed(bucket: str, now: datetime) -> bool:
    started = datetime.strptime(bucket[:10], "%Y%m%d%H").replace(tzinfo=UTC)
    return started + timedelta(hours=1) + WRITE_GRACE <= now


async def rekey_webhook_hours(
    db: Database, buckets: set[str], *, now: datetime | None = None
) -> int:
    """Re-key each closed hour now; remember open hours for :func:`rekey_pending_hours`.

    An hour still being written keeps its key (other processes hold it and seal new bodies
    with it); its re-keying waits until the hour is over, a little more than an hour at most.
    Returns how many hours were re-keyed now.
    """
    moment = now or utcnow()
    pending = await _pending_hours(db) | {b for b in buckets if not _hour_closed(b, moment)}
    closed = sorted(b for b in buckets | pending if _hour_closed(b, moment))
    for bucket in closed:
        await _rekey_hour(db, bucket)
    await _save_pending(db, pending - set(closed))
    return len(closed)


async def rekey_pending_hours(db: Database, *, now: datetime | None = None) -> int:
    """Re-key the hours an erasure touched while they were still open (run hourly)."""
    return await rekey_webhook_hours(db, set(), now=now)


async def _pending_hours(db: Database) -> set[str]:
    async with db.session() as session:
        flag = await session.get(SystemFlag, REKEY_PENDING)
    return set(json.loads(flag.value)) if flag is not None else set()


async def _save_pending(db: Database, buckets: set[str]) -> None:
    async with db.session() as session:
        flag = await session.get(SystemFlag, REKEY_PENDING)
        if flag is None:
            flag = SystemFlag(name=REKEY_PENDING, value="[]")
            session.add(flag)
        flag.value = json.dumps(sorted(buckets))
        await session.commit()


async def _rekey_hour(db: Database, bucket: str) -> None:
    """Re-seal an hour's remaining bodies under a fresh key, then destroy the old key.

    A backup keeps the old ciphertext of the dropped bodies; destroying the hour's old key
    makes those copies unreadable. The bodies that stay are re-sealed first, so nothing
    else is lost.
    """
    scope = WEBHOOK_EVENTS.key_scope
    old_key = await db.vault.key(scope, bucket, create=True)
    fresh_bucket = f"{bucket[:10]}.{secrets.token_hex(2)}"
    fresh_key = await db.vault.key(scope, fresh_bucket, create=True)
    async with db.session() as session:
        rows = await session.scalars(select(WebhookEvent).where(WebhookEvent.key_bucket == bucket))
        for event in rows:
            event.body_enc = _reseal(event, old_key, fresh_key)
            event.key_bucket = fresh_bucket
        await session.commit()
    await db.vault.destroy(scope, bucket)


def _reseal(event: WebhookEvent, old_key: bytes, fresh_key: bytes) -> bytes | None:
    if event.body_enc is None:
        return None
    body = WEBHOOK_EVENTS.cipher(old_key, event.id).open_bytes("body", event.body_enc)
    return WEBHOOK_EVENTS.cipher(fresh_key, event.id).seal_bytes("body", body)
