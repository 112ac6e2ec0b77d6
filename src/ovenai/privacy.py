"""Data-subject rights under Israeli privacy law: access/export and erasure, with deadlines.

A request names its person by exactly one identity OvenAI stores (:class:`Identity`), since
many leads have no phone: a lead from a WhatsApp user who hides their number is known only by
BSUID and username. :func:`find_subject` reads each kind as people write it (phone: any common
form; bsuid: ``CC.`` and letters or digits, as in ``contacts[].user_id``; wa_id: the digits;
username: with or without ``@``, any case; lead_id: the lead's id) and finds the lead through
its blind index, or its id. The kind is always said, never guessed from the value: a phone
and a wa_id are both digits.

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

import asyncio
import json
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Literal, TypedDict, Unpack, get_args

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import audit, consent, dialects, erasure_journal, media, phones
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import CryptoError, InvalidInput, NotFound, PermissionDenied
from ovenai.ingest.parse.dedupe_keys import message_key, preference_prefix, status_key
from ovenai.keystore import Vault
from ovenai.lead_fields import email_key
from ovenai.leads import refuse_erased
from ovenai.media_store import MediaStore
from ovenai.models import (
    AppliedItem,
    AutomationFiring,
    CampaignRecipient,
    ConsentEvent,
    Lead,
    LeadNameToken,
    LeadPhoneToken,
    LeadView,
    Meeting,
    Message,
    Notification,
    PrivacyRequest,
    RequestedDocument,
    ScoreChange,
    SequenceEnrolment,
    StatusEvent,
    SystemFlag,
    WebhookEvent,
    WebhookEventLead,
)
from ovenai.sealing import (
    CONSENT_EVENTS,
    LEADS,
    MEETINGS,
    MESSAGES,
    WEBHOOK_EVENTS,
    username_index,
)

DEADLINE = timedelta(days=30)
REQUEST_KINDS = ("access", "erasure")
_LEAD_INDEXES = (
    "phone_index",
    "phone_tokens_index",  # the phone index its search tokens were made from (phone_search)
    "bsuid_index",
    "wa_id_index",
    "username_index",
    "email_index",
)

IdentityKind = Literal["phone", "bsuid", "wa_id", "username", "email", "lead_id"]
IDENTITY_KINDS: tuple[IdentityKind, ...] = get_args(IdentityKind)


class Identity(TypedDict, total=False):
    """A person named by one identity OvenAI stores: exactly one of these, not None."""

    phone: str | None
    bsuid: str | None
    wa_id: str | None
    username: str | None
    email: str | None
    lead_id: str | None


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


def identity_of(kind: IdentityKind, value: str) -> Identity:
    """The identity of one kind (the command line's ``IDENTITY --by KIND``)."""
    identity: Identity = {}
    identity[kind] = value
    return identity


def _one(identity: Identity) -> tuple[IdentityKind, str]:
    """The one identity given; InvalidInput naming the field when none or several are."""
    given = [(k, v) for k in IDENTITY_KINDS if (v := identity.get(k)) is not None]
    if not given:
        raise InvalidInput(f"name the person by one of {', '.join(IDENTITY_KINDS)}", field="phone")
    if len(given) > 1:
        first, second = given[0][0], given[1][0]
        raise InvalidInput(f"name the person by one of {first} or {second}, not both", field=second)
    return given[0]


# Bidi marks and spaces copied along with an id (docs/whatsapp-api-notes.md).
_NOISE = re.compile(r"[\u200e\u200f\u202a-\u202e\u2066-\u2069\s]")
_BIDI = re.compile(r"[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BSUID = re.compile(r"[A-Z]{2}\.[A-Za-z0-9]{1,128}")
_PARENT_BSUID = re.compile(r"[A-Z]{2}\.ENT\..+", re.IGNORECASE)


def _bsuid(value: str) -> str:
    """A BSUID as WhatsApp sends it: ``CC.`` and letters or digits (country code upper case)."""
    text = _NOISE.sub("", value)
    text = text[:2].upper() + text[2:]
    if _PARENT_BSUID.fullmatch(text):
        raise InvalidInput(
            "that is a business portfolio's parent id (parent_user_id), which OvenAI does not "
            "store; give the user's own BSUID",
            field="bsuid",
        )
    if not _BSUID.fullmatch(text):
        raise InvalidInput(
            "a BSUID is a country code, a dot and letters or digits, e.g. US.13491208655302741918",
            field="bsuid",
        )
    return text


def _wa_id(value: str) -> str:
    """A wa_id: the digits of the number with its country code (``+``, dashes ignored)."""
    digits = re.sub("[-()]", "", _NOISE.sub("", value)).removeprefix("+")
    if not (digits.isascii() and digits.isdigit() and 5 <= len(digits) <= 20):
        raise InvalidInput(
            "a wa_id is digits with the country code, e.g. 972521234567", field="wa_id"
        )
    return digits


def _lead_id(value: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise InvalidInput("a lead id is a UUID, as the API shows it", field="lead_id") from None


_INDEXED: dict[str, Callable[[str], str]] = {
    "phone": phones.normalize,
    "bsuid": _bsuid,
    "wa_id": _wa_id,
}


async def find_subject(session: AsyncSession, db: Database, **identity: Unpack[Identity]) -> Lead:
    """The lead named by exactly one identity (see the module docstring), erased or not.

    InvalidInput (naming the field) when none or several are given, when the value is not of
    its kind, or when a username was held by several leads; NotFound saying only the kind
    (never the value) when no lead has it. An erased lead keeps its row, so it is found by
    its id; its identities are blanked, so it is found by them only while its erasure runs.
    """
    kind, value = _one(identity)
    if kind == "lead_id":
        lead = await session.get(Lead, _lead_id(value))
    elif kind == "username":
        lead = await _by_username(session, db.vault, value)
    elif kind == "email":
        lead = await _by_email(session, db.vault, value)
    else:
        index = db.vault.index(kind, _INDEXED[kind](value))
        lead = await session.scalar(select(Lead).where(getattr(Lead, f"{kind}_index") == index))
    if lead is None:
        hint = "" if kind == "lead_id" else " (never stored, or already erased)"
        raise NotFound(f"no lead with that {kind}{hint}")
    return lead


async def _by_username(session: AsyncSession, vault: Vault, value: str) -> Lead | None:
    """The one lead holding the username; several (WhatsApp lets a username pass on) are
    refused rather than guessed between."""
    username = _BIDI.sub("", value).strip().removeprefix("@")
    if not username or len(username) > 100 or _NOISE.search(username):
        raise InvalidInput("a username has no spaces, e.g. maya.tlv or @maya.tlv", field="username")
    await _index_stored_usernames(session, vault)
    query = select(Lead).where(Lead.username_index == username_index(vault, username)).limit(2)
    found = list(await session.scalars(query))
    if len(found) > 1:
        raise InvalidInput(
            "more than one lead has had that username; name the person by bsuid, wa_id, phone "
            "or lead_id",
            field="username",
        )
    return found[0] if found else None


async def _by_email(session: AsyncSession, vault: Vault, value: str) -> Lead | None:
    """The one lead with the address (any letter case); several (a couple may share one)
    are refused rather than guessed between."""
    try:
        key = email_key(value)
    except ValueError:
        raise InvalidInput("an e-mail address, e.g. noa@example.com", field="email") from None
    query = select(Lead).where(Lead.email_index == vault.index("email", key)).limit(2)
    found = list(await session.scalars(query))
    if len(found) > 1:
        raise InvalidInput(
            "more than one lead has that e-mail address; name the person by phone, bsuid, "
            "wa_id or lead_id",
            field="email",
        )
    return found[0] if found else None


async def _index_stored_usernames(session: AsyncSession, vault: Vault) -> None:
    """Index the usernames stored before leads had a username index (migration 0007).

    The migration could not (the index key lives in the key store); every username written
    since is indexed as it is stored (:func:`ovenai.leads.seal_identity`), so once the
    caller commits, this finds nothing again. A row whose username changed meanwhile is
    left for the next time (the update matches the ciphertext read).
    """
    query = select(Lead.id, Lead.username_enc).where(
        Lead.username_enc.is_not(None), Lead.username_index.is_(None), Lead.erased_at.is_(None)
    )
    rows = (await session.execute(query)).all()
    if not rows:
        return
    keys = await vault.lead_keys(row.id for row in rows)
    for row in rows:
        username = LEADS.cipher(keys[row.id], row.id).open("username", row.username_enc)
        if username:
            await session.execute(
                update(Lead)
                .where(Lead.id == row.id, Lead.username_enc == row.username_enc)
                .values(username_index=username_index(vault, username))
            )


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


async def record_request(
    db: Database, *, actor: Actor, kind: str, **identity: Unpack[Identity]
) -> RequestRecord:
    """Log a request received today (its 30-day clock starts now) to be handled later."""
    require_admin(actor)
    if kind not in REQUEST_KINDS:
        raise NotFound(f"unknown request kind {kind!r}; use one of {', '.join(REQUEST_KINDS)}")
    async with db.session() as session:
        lead = await find_subject(session, db, **identity)
        refuse_erased(lead.id, lead.erased_at)
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
    async with db.reading() as session:
        rows = await session.scalars(select(PrivacyRequest).order_by(PrivacyRequest.id.desc()))
        return [_open_request(row, now) for row in rows]


async def erase(
    db: Database, *, actor: Actor, files: MediaStore | None = None, **identity: Unpack[Identity]
) -> ErasureReport:
    """Erase everything about the person named (see the module docstring).

    A lead already erased is Gone; one whose erasure was interrupted (its erasure request
    still open) is erased again, which finishes the job.
    """
    require_admin(actor)
    async with db.session() as session:
        lead = await find_subject(session, db, **identity)
        if lead.erased_at is not None and not await _erasure_open(session, lead.id):
            refuse_erased(lead.id, lead.erased_at)
    return await erase_lead(db, actor=actor, lead_id=lead.id, files=files)


async def _erasure_open(session: AsyncSession, lead_id: str) -> bool:
    query = select(PrivacyRequest.id).where(
        PrivacyRequest.kind == "erasure",
        PrivacyRequest.lead_id == lead_id,
        PrivacyRequest.completed_at.is_(None),
    )
    return await session.scalar(query.limit(1)) is not None


async def erase_lead(
    db: Database, *, actor: Actor, lead_id: str, files: MediaStore | None = None
) -> ErasureReport:
    """Erase one lead by id (erasure requests and retention both end here).

    The files the lead sent are deleted from ``files`` (the media store) at once; a caller
    without the store leaves them marked erased, and the worker's media job deletes them.
    """
    async with db.session() as session:
        request = await open_request(session, actor=actor, kind="erasure", lead_id=lead_id)
        # Marked before the key goes: from this commit on every write refuses the lead, in
        # every process, whatever key it has cached (ovenai.leads.lock_unerased).
        await session.execute(update(Lead).where(Lead.id == lead_id).values(erased_at=utcnow()))
        identities = await _whatsapp_identities(session, db.vault, lead_id)
        # An opted-out lead's phone stays on the do-not-contact list (a keyed hash only).
        await consent.remember_do_not_contact(session, lead_id)
        await session.commit()
    await db.vault.destroy("lead", lead_id)
    async with db.session() as session:
        await _forget_whatsapp_ids(session, lead_id, identities)
        report = await _anonymise(session, lead_id)
        await media.mark_erased(session, lead_id)  # unreadable already: the key is gone
        dropped, hours = await _drop_webhook_bodies(session, lead_id)
        request_row = await session.get(PrivacyRequest, request.id)
        assert request_row is not None
        request_row.completed_at = utcnow()
        audit.record(session, actor=actor, action="erase", subject_type="lead", subject_id=lead_id)
        await session.commit()
    # Kept apart from the backups: a restore of an older one is erased again from it.
    await asyncio.to_thread(
        erasure_journal.record, db.erasure_journal, lead_id, request_row.completed_at
    )
    if files is not None:
        async with db.session() as session:
            await media.purge_erased(session, files, lead_id=lead_id)
            await session.commit()
    rekeyed = await rekey_webhook_hours(db, hours)
    return ErasureReport(lead_id=lead_id, webhook_bodies=dropped, rekeyed_hours=rekeyed, **report)


async def _whatsapp_identities(session: AsyncSession, vault: Vault, lead_id: str) -> list[str]:
    """The lead's BSUID and wa_id in the clear, read while its key still exists."""
    lead = await session.get(Lead, lead_id)
    if lead is None:
        return []
    try:
        key = await vault.key("lead", lead_id)
    except CryptoError:  # an erasure interrupted after the key went: nothing left to read
        return []
    found = [LEADS.open_from(lead, key, column) for column in ("bsuid", "wa_id")]
    return [value for value in found if value]


# WhatsApp message ids carry the user's number (base64 of the wa_id and a random part), so
# an erased lead's wamids are forgotten wherever they are kept in the clear.
_CHUNK = 200


async def _forget_whatsapp_ids(session: AsyncSession, lead_id: str, identities: list[str]) -> None:
    """Delete what keeps the lead's WhatsApp ids in the clear: its messages' wamids (on the
    messages, their statuses and the dedupe keys of both) and the dedupe keys of its
    marketing preferences (which name its BSUID or wa_id)."""
    query = select(Message.wa_message_id).where(
        Message.lead_id == lead_id, Message.wa_message_id.is_not(None)
    )
    wamids = [wamid for wamid in await session.scalars(query) if wamid]
    for start in range(0, len(wamids), _CHUNK):
        chunk = wamids[start : start + _CHUNK]
        await session.execute(delete(StatusEvent).where(StatusEvent.wa_message_id.in_(chunk)))
        keyed = [AppliedItem.dedupe_key == message_key(wamid) for wamid in chunk]
        keyed += [
            AppliedItem.dedupe_key.startswith(status_key(wamid, ""), autoescape=True)
            for wamid in chunk
        ]
        await session.execute(delete(AppliedItem).where(or_(*keyed)))
    for identity in identities:
        prefix = preference_prefix(identity)
        await session.execute(
            delete(AppliedItem).where(AppliedItem.dedupe_key.startswith(prefix, autoescape=True))
        )
    await session.execute(
        update(Message)
        .where(Message.lead_id == lead_id)
        .values(wa_message_id=None, context_wa_message_id=None)
    )


async def _anonymise(session: AsyncSession, lead_id: str) -> dict[str, int]:
    blanks = LEADS.blanks() | dict.fromkeys(_LEAD_INDEXES)
    await session.execute(
        update(Lead).where(Lead.id == lead_id).values(**blanks, erased_at=utcnow())
    )
    await session.execute(delete(LeadNameToken).where(LeadNameToken.lead_id == lead_id))
    # What automation did for the person and how their score moved: about them, so gone.
    await session.execute(delete(AutomationFiring).where(AutomationFiring.lead_id == lead_id))
    await session.execute(delete(ScoreChange).where(ScoreChange.lead_id == lead_id))
    await session.execute(delete(SequenceEnrolment).where(SequenceEnrolment.lead_id == lead_id))
    await session.execute(delete(Notification).where(Notification.lead_id == lead_id))
    # Which campaigns reached them or left them out, and why: about them, so gone.
    await session.execute(delete(CampaignRecipient).where(CampaignRecipient.lead_id == lead_id))
    # Which documents they were asked for and sent (the files themselves are erased apart).
    await session.execute(delete(RequestedDocument).where(RequestedDocument.lead_id == lead_id))
    # The blind-indexed fragments of their phone (inbox search) and who opened them when.
    await session.execute(delete(LeadPhoneToken).where(LeadPhoneToken.lead_id == lead_id))
    await session.execute(delete(LeadView).where(LeadView.lead_id == lead_id))
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


# A body's key hour is the hour of its ``received_at`` (the event store takes both from one
# clock reading, and a re-keyed hour keeps both): an hour's bodies are looked up by that
# index, this far around the hour for safety, not by reading every stored body's bucket.
HOUR_MARGIN = timedelta(days=1)


def _hour_started(bucket: str) -> datetime:
    return datetime.strptime(bucket[:10], "%Y%m%d%H").replace(tzinfo=UTC)


def _hour_closed(bucket: str, now: datetime) -> bool:
    return _hour_started(bucket) + timedelta(hours=1) + WRITE_GRACE <= now


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
        started = _hour_started(bucket)
        query = select(WebhookEvent).where(
            WebhookEvent.received_at >= started - HOUR_MARGIN,
            WebhookEvent.received_at < started + timedelta(hours=1) + HOUR_MARGIN,
            WebhookEvent.key_bucket == bucket,
        )
        rows = await session.scalars(query)
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
