"""Claiming queued messages for one worker, and reading them back into sendable jobs.

A claim is one conditional UPDATE: due ``queued`` rows (and ``sending`` rows whose claim
expired: their worker died) become ``sending``, owned by this worker until
``claimed_until``, with ``attempts`` counted *before* the call. On PostgreSQL the candidate
rows are locked with ``FOR UPDATE SKIP LOCKED`` so workers on several machines share one
queue without waiting on each other; on SQLite ``BEGIN IMMEDIATE`` serialises the one worker.

A message is never claimed while an earlier due message to the same lead is still queued or
sending, so messages to one lead leave in the order they were queued (one in flight per lead).

The claim is built once per dialect (its values are bound parameters) and returns each message
with its lead's columns, read in the same statement: jobs need no second query, only the keys.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    Integer,
    Row,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects
from ovenai.errors import CryptoError
from ovenai.keystore import Vault
from ovenai.models import Direction, Lead, Message, MessageStatus
from ovenai.outbox import rules
from ovenai.sealing import LEADS, MESSAGES, LeadColumn, MessageColumn, RowCipher

IN_QUEUE = (MessageStatus.QUEUED.value, MessageStatus.SENDING.value)
YIELD_EVERY = 50  # jobs decrypted between two turns of the event loop
_MESSAGES: Any = Message.__table__
_LEADS: Any = Lead.__table__
_M = _MESSAGES.c


class Claimed(NamedTuple):
    """A claimed message's columns and its lead's, in the order the claim returns them."""

    id: str
    lead_id: str
    type: str
    attempts: int
    throttled_attempts: int
    category: str | None
    template_name: str | None
    template_language: str | None
    text_enc: bytes | None
    template_params_enc: bytes | None
    payload_enc: bytes | None
    bsuid_enc: bytes | None
    wa_id_enc: bytes | None
    phone_enc: bytes | None
    opted_out: bool | None
    last_inbound_at: datetime | None
    erased: bool | None
    basis: str | None


_LEAD_FIELDS = {  # only whether a lead opted out or was erased matters here, not when
    "bsuid_enc": _LEADS.c.bsuid_enc,
    "wa_id_enc": _LEADS.c.wa_id_enc,
    "phone_enc": _LEADS.c.phone_enc,
    "opted_out": _LEADS.c.opted_out_at.is_not(None),
    "last_inbound_at": _LEADS.c.last_inbound_at,
    "erased": _LEADS.c.erased_at.is_not(None),
    "basis": _LEADS.c.marketing_basis,  # None: no lawful basis for marketing (ovenai.consent)
}
_CLAIMED = tuple(_M[name] for name in Claimed._fields[: -len(_LEAD_FIELDS)])
assert Claimed._fields[-len(_LEAD_FIELDS) :] == tuple(_LEAD_FIELDS)  # same order as selected


@dataclass(slots=True)
class Job:
    """A claimed message, decrypted and ready to hand to the Cloud API client."""

    id: str
    lead_id: str
    kind: str
    attempts: int
    throttled_attempts: int = 0  # throttling answers in a row so far (their waits grow by it)
    category: str | None = None
    template_name: str | None = None
    template_language: str | None = None
    text: str | None = None
    body_params: list[str] | dict[str, str] = field(default_factory=list)
    header_params: list[str] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (id, title): interactive
    quick_replies: list[str] = field(default_factory=list)  # a template's buttons' payloads
    # image / document, or a template's media header: the listing's file (property_files)
    file_id: str | None = None
    preview_url: bool = False
    to: str | None = None
    recipient: str | None = None
    fallback_to: str | None = None  # the lead's number, if Meta refuses the BSUID (131062)
    window_open: bool = False
    problem: str | None = None  # why it must fail without a call (rules changed meanwhile)
    send_by: float = math.inf  # event-loop time after which it must not be sent on this claim

    @property
    def business_initiated(self) -> bool:
        """A template outside the service window: it counts toward the messaging limit."""
        return self.kind == "template" and not self.window_open

    def fall_back_to_number(self) -> bool:
        """Address the lead's number instead of its BSUID; False if none is left to try."""
        if self.fallback_to is None:
            return False
        self.to, self.recipient, self.fallback_to = self.fallback_to, None, None
        return True


def _due() -> tuple[Any, Any]:
    """Due: queued and its time has come, or sending and its claim expired (worker died)."""
    now: Any = bindparam("b_now")
    queued = (_M.status == MessageStatus.QUEUED) & (_M.next_attempt_at <= now)
    expired = (_M.status == MessageStatus.SENDING) & (_M.claimed_until < now)
    return queued, expired


def _blocked() -> Any:
    earlier = _MESSAGES.alias("earlier")
    # The status test goes through an expression so that the planner always probes the
    # per-lead index: with stale statistics after a burst of sends, PostgreSQL otherwise
    # scans every queued row once per candidate (seen: 20,000 queued rows, claims of minutes).
    return exists().where(
        earlier.c.lead_id == _M.lead_id,
        func.lower(earlier.c.status).in_(IN_QUEUE),
        or_(earlier.c.send_after.is_(None), earlier.c.send_after <= bindparam("b_now")),
        tuple_(earlier.c.created_at, earlier.c.id) < tuple_(_M.created_at, _M.id),
    )


def _first(due: Any, *columns: Any) -> Any:
    """The first ``b_limit`` due, unblocked messages (by due time, then age)."""
    return (
        select(*columns)
        .where(_M.direction == Direction.OUTBOUND, due, ~_blocked())
        .order_by(_M.next_attempt_at, _M.created_at)
        .limit(bindparam("b_limit", type_=Integer))
    )


def _candidates(dialect: dialects.Name) -> Any:
    """The ids to claim: the first ``b_limit`` due messages of either kind."""
    queued, expired = _due()
    if dialect == "postgresql":
        return _first(or_(queued, expired), _M.id).with_for_update(skip_locked=True)
    # SQLite cannot walk its (status, next_attempt_at) index for an OR, so it would rank
    # every due row on every claim; the first ones of each kind, merged, are the same rows.
    ranked = (_first(due, _M.id, _M.next_attempt_at, _M.created_at) for due in (queued, expired))
    both = union_all(*(select(first.subquery()) for first in ranked)).subquery()
    return (
        select(both.c.id)
        .order_by(both.c.next_attempt_at, both.c.created_at)
        .limit(bindparam("b_limit", type_=Integer))
    )


def _claiming(dialect: dialects.Name) -> Any:
    """The conditional UPDATE; parameters ``b_worker``, ``b_limit``, ``b_now``, ``b_until``."""
    candidates = _candidates(dialect)
    return (
        update(_MESSAGES)
        .where(_M.id.in_(candidates.scalar_subquery()))
        .values(
            status=MessageStatus.SENDING,
            claimed_by=bindparam("b_worker"),
            claimed_until=bindparam("b_until"),
            attempts=_M.attempts + 1,
            updated_at=bindparam("b_now"),
        )
    )


@functools.cache
def claim_statement(dialect: dialects.Name) -> Any:
    """The claim, built once per dialect: each claimed row with its lead's columns.

    PostgreSQL joins the leads to the UPDATE's rows in a CTE; SQLite, which cannot, reads
    them with subqueries in RETURNING. Either way one statement, so one snapshot.
    """
    claiming = _claiming(dialect)
    if dialect != "postgresql":
        return claiming.returning(*_CLAIMED, *map(_lead_subquery, _LEAD_FIELDS.items()))
    claimed = claiming.returning(*_CLAIMED, _M.next_attempt_at, _M.created_at).cte("claimed")
    return (
        select(*(claimed.c[c.name] for c in _CLAIMED), *_labelled(_LEAD_FIELDS))
        .select_from(claimed.outerjoin(_LEADS, _LEADS.c.id == claimed.c.lead_id))
        .order_by(claimed.c.next_attempt_at, claimed.c.created_at)
    )


def _labelled(fields: dict[str, Any]) -> list[Any]:
    return [value.label(name) for name, value in fields.items()]


def _lead_subquery(field: tuple[str, Any]) -> Any:
    # SQLite's RETURNING drops table names, so the message's column is spelled out: a bare
    # ``lead_id`` would bind to the leads table if it ever had such a column.
    name, value = field
    owner = _LEADS.c.id == literal_column("messages.lead_id")
    return select(value).where(owner).scalar_subquery().label(name)


async def claim(
    session: AsyncSession, *, worker: str, limit: int, ttl_s: float, now: datetime
) -> list[Row[Any]]:
    """Claim due messages (caller commits); the claimed rows, with their leads' columns."""
    connection = await session.connection()
    statement = claim_statement(dialects.name_of(connection))
    until = now + timedelta(seconds=ttl_s)
    params = {"b_worker": worker, "b_limit": limit, "b_now": now, "b_until": until}
    return list((await connection.execute(statement, params)).all())


async def load_jobs(vault: Vault, rows: list[Row[Any]], now: datetime) -> list[Job]:
    """Decrypt rows from :func:`claim` (which carry their leads' columns) into jobs."""
    if not rows:
        return []
    # Rows become plain tuples first: reading a Row's attribute costs twenty times more.
    claimed = [Claimed._make(row) for row in rows]
    keys = await _keys(vault, list({row.lead_id for row in claimed}))
    jobs: list[Job] = []
    for row in claimed:
        if len(jobs) % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)  # let the sends due meanwhile start at their slots
        jobs.append(_job(row, keys.get(row.lead_id), now))
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


FILES = ("image", "document")
"""Kinds that carry a listing's file (uploaded to Meta by the worker when it sends)."""
FREE_FORM = ("text", "interactive", *FILES)
"""Kinds that are not templates: they may go only while the lead's window is open."""


def _job(row: Claimed, key: bytes | None, now: datetime) -> Job:
    job = Job(
        id=row.id,
        lead_id=row.lead_id,
        kind=row.type,
        attempts=row.attempts,
        throttled_attempts=row.throttled_attempts,
    )
    # The message's foreign key (ON DELETE CASCADE) means its lead row was there in the
    # claim's snapshot: an erased lead shows as ``erased`` or as a destroyed key.
    if key is None or row.erased:
        job.problem = "the lead was erased"
        return job
    _fill_content(job, row, MESSAGES.cipher(key, row.id))
    _fill_address(job, row, LEADS.cipher(key, row.lead_id), now)
    return job


def _fill_content(job: Job, row: Claimed, cipher: RowCipher[MessageColumn]) -> None:
    payload = json.loads(cipher.open("payload", row.payload_enc) or "{}")
    job.category = row.category
    if job.kind == "text":
        job.text = cipher.open("text", row.text_enc)
        job.preview_url = bool(payload.get("preview_url", False))
        return
    if job.kind == "interactive":
        job.text = cipher.open("text", row.text_enc)
        job.buttons = [(str(id_), str(title)) for id_, title in payload.get("buttons") or []]
        return
    if job.kind in FILES:
        job.text = cipher.open("text", row.text_enc)  # the caption, if any
        job.file_id = payload.get("file_id")
        return
    job.template_name, job.template_language = row.template_name, row.template_language
    job.body_params = json.loads(cipher.open("template_params", row.template_params_enc) or "[]")
    job.header_params = list(payload.get("header_params") or [])
    job.file_id = payload.get("header_file")  # an image or document header's listing file
    job.quick_replies = [str(each) for each in payload.get("quick_replies") or []]


def _fill_address(job: Job, row: Claimed, cipher: RowCipher[LeadColumn], now: datetime) -> None:
    job.window_open = rules.window_open(row.last_inbound_at, now)
    try:
        address = _address(row, cipher)
    except rules.NoWhatsAppIdentity as exc:
        job.problem = exc.message
        return
    job.to, job.recipient, job.fallback_to = address.to, address.recipient, address.fallback_to
    if job.kind in FREE_FORM and not job.window_open:
        job.problem = rules.OutsideServiceWindow(row.last_inbound_at).message
    elif (job.category or "").upper() == rules.MARKETING and row.opted_out:
        job.problem = rules.LeadOptedOut(job.template_name or "template").message
    elif (job.category or "").upper() == rules.MARKETING and row.basis is None:
        job.problem = rules.LeadWithoutBasis(job.template_name or "template").message


def _address(row: Claimed, cipher: RowCipher[LeadColumn]) -> rules.Recipient:
    """Where the lead's message goes (:func:`rules.recipient_of`), from its sealed ids."""
    wa_id = cipher.open("wa_id", row.wa_id_enc)
    # Beside a wa_id the phone is never written to, so it is not opened at all.
    phone = None if wa_id else cipher.open("phone", row.phone_enc)
    return rules.recipient_of(bsuid=cipher.open("bsuid", row.bsuid_enc), wa_id=wa_id, phone=phone)


async def defer(
    session: AsyncSession, *, worker: str, until: dict[str, datetime], now: datetime
) -> None:
    """Give claimed messages back, not due before ``until`` (per message id), like a
    scheduled send (``send_after``: they hold up no later message to their lead), with the
    claim's attempt refunded (caller commits). For marketing claimed in a quiet time."""
    if not until:
        return
    statement = (
        update(_MESSAGES)
        .where(_M.id == bindparam("b_id"), _M.claimed_by == bindparam("b_worker"))
        .values(
            status=MessageStatus.QUEUED,
            next_attempt_at=bindparam("b_until"),
            send_after=bindparam("b_until"),
            attempts=_M.attempts - 1,
            claimed_by=None,
            claimed_until=None,
            status_at=bindparam("b_now"),
            updated_at=bindparam("b_now"),
        )
    )
    rows = [
        {"b_id": id_, "b_until": when, "b_worker": worker, "b_now": now}
        for id_, when in until.items()
    ]
    connection = await session.connection()
    await connection.execute(statement, rows)
