"""Leads: create, read, update, list and search — with personal data sealed at rest.

Service functions take plain values, own their transaction and return :class:`LeadRecord`
(decrypted, ready to show). Agents see the leads assigned to them and unassigned ones;
admins see all. Phone, BSUID and `wa_id` are found through blind indexes; names through
blind-indexed word prefixes (:func:`ovenai.sealing.name_index`).

A phone belongs to one lead at most, so a create or update that gives a phone already held
is refused (409). The answer names the lead holding it only when the actor may see that
lead; otherwise (another agent's lead, a lead being erased, a clash with a write stored
meanwhile) it is one vague refusal (:data:`PHONE_REFUSED`), the same whatever the cause,
and the attempt is audited for admins. That a refused phone is in use cannot be hidden while
phones are unique; whose lead holds it, and that it is a lead at all, is not told.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, cast

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
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import audit, consent, hooks, phones
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database, shared_reads
from ovenai.errors import Conflict, Gone, InvalidInput, NotFound, PermissionDenied
from ovenai.keystore import Vault
from ovenai.lead_fields import LeadCreate, LeadFilter, LeadUpdate, email_key
from ovenai.models import (
    Lead,
    LeadNameToken,
    Property,
    Role,
    ScoreChange,
    ScoreReason,
    Stage,
    User,
)
from ovenai.pagination import Page, decode_cursor, page_of, paginate
from ovenai.sealing import LEADS, LeadColumn, name_index, search_index, username_index

CLOSED_STAGES = frozenset({Stage.WON, Stage.LOST})
# What an actor is told of a phone they may not use: held by a lead they may not see, or
# clashing with a write stored meanwhile. The same words for every cause, so the answer
# confirms neither whose lead holds the phone nor that a lead does.
PHONE_REFUSED = "this phone number cannot be used for this lead; ask an admin"
_CLASHED = "the lead clashes with one stored meanwhile; try again"
_CHUNK = 500  # ids per IN list of a statement about many leads


class PhoneTaken(Conflict):
    """409 for a phone held by a lead the actor may see: names it, so the UI can link to it."""

    def __init__(self, phone: str, lead_id: str) -> None:
        super().__init__(f"the phone {phone} already belongs to lead {lead_id}", field="phone")
        self.lead_id = lead_id

    def to_dict(self) -> dict[str, object]:
        """The Conflict answer with the holding lead's id."""
        return {**super().to_dict(), "error": "Conflict", "lead_id": self.lead_id}


class PhoneRefused(Conflict):
    """409 :data:`PHONE_REFUSED` for a phone the actor may not use, whatever the cause.

    ``holder_id``, the lead holding the phone when known, goes to the audit log only: the
    answer is exactly a plain Conflict's.
    """

    def __init__(self, holder_id: str | None) -> None:
        super().__init__(PHONE_REFUSED, field="phone")
        self.holder_id = holder_id

    def to_dict(self) -> dict[str, object]:
        """A plain Conflict's answer: nothing of the holder."""
        return {**super().to_dict(), "error": "Conflict"}


@dataclass(frozen=True)
class LeadRecord:
    """A lead as agents see it: decrypted and complete."""

    id: str
    name: str | None
    phone: str | None
    bsuid: str | None
    wa_id: str | None
    username: str | None
    profile_name: str | None
    notes: str | None
    email: str | None
    language: str
    source: str
    stage: str
    assigned_agent_id: str | None
    property_id: str | None
    want_city: str | None
    want_area: str | None
    want_rooms_min: Decimal | None
    want_rooms_max: Decimal | None
    want_size_min: int | None
    want_budget_min: int | None
    want_budget_max: int | None
    engagement_score: int
    opted_in_at: datetime | None
    opt_in_source: str | None
    opted_out_at: datetime | None
    marketing_basis: str | None
    last_inbound_at: datetime | None
    created_at: datetime
    updated_at: datetime


# The record's fields read as they are from the row: all but the sealed ones.
_STORED_FIELDS = tuple(f.name for f in fields(LeadRecord) if f.name not in LEADS.columns)
# Kept by the product itself, never copied from an update: the id, consent (an update's
# `opted_in` goes through _apply_consent), the last inbound message (webhooks), the times.
_CONSENT = ("opted_in_at", "opt_in_source", "opted_out_at", "marketing_basis")
_KEPT_BY_PRODUCT = frozenset({"id", *_CONSENT, "last_inbound_at", "created_at", "updated_at"})
# What an update copies into the row as given.
PLAIN_FIELDS = tuple(name for name in _STORED_FIELDS if name not in _KEPT_BY_PRODUCT)


def _open(lead: Lead, key: bytes) -> LeadRecord:
    sealed: dict[str, Any] = LEADS.open_all(lead, key)
    return LeadRecord(**sealed, **{name: getattr(lead, name) for name in _STORED_FIELDS})


async def open_leads(vault: Vault, leads: list[Lead]) -> list[LeadRecord]:
    """Decrypt several leads with one key lookup."""
    keys = await vault.lead_keys([lead.id for lead in leads])
    return [_open(lead, keys[lead.id]) for lead in leads]


def seal_identity(
    vault: Vault, lead: Lead, key: bytes, values: Mapping[LeadColumn, str | None]
) -> None:
    """Encrypt the given personal fields into the row and refresh their blind indexes."""
    for column, value in identity_columns(vault, lead.id, key, values).items():
        setattr(lead, column, value)


def identity_columns(
    vault: Vault, lead_id: str, key: bytes, values: Mapping[LeadColumn, str | None]
) -> dict[str, Any]:
    """What :func:`seal_identity` writes, as column values: for Core statements that insert
    or update many leads at once (webhook ingestion) without building ORM objects."""
    columns: dict[str, Any] = LEADS.sealed(key, lead_id, values)
    for name, value in values.items():
        if name in ("phone", "bsuid", "wa_id"):
            columns[f"{name}_index"] = vault.index(name, value) if value else None
        elif name == "username":
            columns["username_index"] = username_index(vault, value) if value else None
        elif name == "email":
            columns["email_index"] = vault.index("email", email_key(value)) if value else None
    return columns


async def _set_name_tokens(
    session: AsyncSession, vault: Vault, lead_id: str, name: str | None
) -> None:
    await session.execute(delete(LeadNameToken).where(LeadNameToken.lead_id == lead_id))
    tokens = name_index(vault, name)
    session.add_all(LeadNameToken(lead_id=lead_id, token=token) for token in sorted(tokens))


async def set_name_tokens(
    session: AsyncSession, vault: Vault, lead_id: str, name: str | None
) -> None:
    """Replace a lead's searchable name tokens (for services that seal a name themselves)."""
    await _set_name_tokens(session, vault, lead_id, name)


async def set_many_name_tokens(
    session: AsyncSession, vault: Vault, names: Mapping[str, str | None], *, new: bool = False
) -> None:
    """Replace the name tokens of several leads (lead id → name) with two statements;
    ``new`` leads have none yet, so nothing is deleted first."""
    if not names:
        return
    if not new:
        ids = list(names)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            await session.execute(delete(LeadNameToken).where(LeadNameToken.lead_id.in_(chunk)))
    rows = name_token_rows(vault, names)
    if rows:
        await session.execute(insert(cast(Table, LeadNameToken.__table__)), rows)


def name_token_rows(vault: Vault, names: Mapping[str, str | None]) -> list[dict[str, str]]:
    """The ``lead_name_tokens`` rows of several leads' names (lead id → name)."""
    return [
        {"lead_id": lead_id, "token": token}
        for lead_id, name in names.items()
        for token in sorted(name_index(vault, name))
    ]


def assigned_to(actor: Actor) -> ColumnElement[bool]:
    """The leads an actor's role reaches: all for admins; own and unassigned for agents."""
    if actor.is_admin:
        return true()
    return or_(Lead.assigned_agent_id == actor.user_id, Lead.assigned_agent_id.is_(None))


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """The leads an actor may list: those :func:`assigned_to` them, never an erased one
    (its key is destroyed: neither it nor its meetings and messages can open)."""
    return and_(Lead.erased_at.is_(None), assigned_to(actor))


def refuse_erased(lead_id: str, erased_at: datetime | None) -> None:
    """Gone (410) for an erased lead: nothing of it is read or written again."""
    if erased_at is not None:
        raise Gone(f"lead {lead_id} was erased")


async def lock_unerased(session: AsyncSession, lead_id: str) -> None:
    """Lock a lead's row for this transaction; Gone if it was erased (or is being erased).

    Every write of a lead's personal data calls this (or :func:`load_visible` with
    ``for_update``) in its own transaction: an erasure marks the row first, so a write either
    commits before that mark (and the erasure blanks what it wrote) or sees it and is refused.
    A key cached by this process (:class:`ovenai.keystore.Vault`) is then never used for a lead
    another process erased.
    """
    query = select(Lead.erased_at).where(Lead.id == lead_id).with_for_update()
    refuse_erased(lead_id, (await session.execute(query)).scalar_one_or_none())


async def _check_assignment(session: AsyncSession, actor: Actor, agent_id: str | None) -> None:
    if agent_id is None:
        return
    if not actor.is_admin and agent_id != actor.user_id:
        raise PermissionDenied("agents may assign leads only to themselves")
    user = await session.get(User, agent_id)
    if user is None or not user.is_active:
        raise InvalidInput(f"no active user {agent_id}", field="assigned_agent_id")


async def _check_property(session: AsyncSession, property_id: str | None) -> None:
    if property_id is not None and await session.get(Property, property_id) is None:
        raise InvalidInput(f"no property {property_id}", field="property_id")


def _reaches(actor: Actor, assigned_agent_id: str | None, erased_at: datetime | None) -> bool:
    """Whether the actor may see a lead with these columns (:func:`visible_to`, for one row);
    admins see every lead, an erased one too (reading it then answers 410)."""
    if actor.is_admin:
        return True
    return erased_at is None and assigned_agent_id in (None, actor.user_id)


async def _check_phone(
    session: AsyncSession, vault: Vault, actor: Actor, phone: str, lead_id: str
) -> None:
    """PhoneTaken if another lead the actor may see holds the phone; PhoneRefused if one
    they may not see does (another agent's, or one being erased: its index is not yet blank).
    """
    query = select(Lead.id, Lead.assigned_agent_id, Lead.erased_at).where(
        Lead.phone_index == vault.index("phone", phone), Lead.id != lead_id
    )
    holder = (await session.execute(query)).one_or_none()
    if holder is None:
        return
    if _reaches(actor, holder.assigned_agent_id, holder.erased_at):
        raise PhoneTaken(phone, holder.id)
    raise PhoneRefused(holder.id)


async def _refusal(
    session: AsyncSession,
    vault: Vault,
    actor: Actor,
    clash: PhoneRefused | IntegrityError,
    *,
    attempt: Literal["create", "update"],
    phone: str | None,
    lead_id: str,
) -> Conflict:
    """The answer to a create or update whose phone clashed, after rolling it back.

    A write that met a concurrent one (IntegrityError: the same phone stored meanwhile) is
    answered as if the check had seen that lead, so a race tells no more than the check.
    A refusal that names no lead is audited (the holding lead as subject, when known).
    """
    await session.rollback()
    refusal = clash if isinstance(clash, PhoneRefused) else None
    if refusal is None and phone is not None:
        try:
            await _check_phone(session, vault, actor, phone, lead_id)
        except PhoneTaken as taken:
            return taken
        except PhoneRefused as refused:
            refusal = refused
    if refusal is None:
        if actor.is_admin or phone is None:
            return Conflict(_CLASHED)
        refusal = PhoneRefused(None)
    details: dict[str, object] = {"attempt": attempt}
    if attempt == "update":
        details["lead_id"] = lead_id
    audit.record(
        session,
        actor=actor,
        action="phone_refused",
        subject_type="lead",
        subject_id=refusal.holder_id,
        details=details,
    )
    await session.commit()
    return refusal


async def create_lead(db: Database, *, actor: Actor, data: LeadCreate) -> LeadRecord:
    """Create a lead; Conflict if its phone already belongs to another lead (naming that lead
    only if the actor may see it; see the module docstring)."""
    phone = phones.normalize(data.phone) if data.phone else None
    lead_id = new_id()
    async with db.session() as session:
        try:
            lead = await add_lead(session, db.vault, actor=actor, data=data, lead_id=lead_id)
            audit.record(
                session, actor=actor, action="create", subject_type="lead", subject_id=lead.id
            )
            await hooks.run_after_lead_created(session, lead)
            await session.commit()
        except (PhoneRefused, IntegrityError) as clash:
            raise await _refusal(
                session, db.vault, actor, clash, attempt="create", phone=phone, lead_id=lead_id
            ) from None
        return (await open_leads(db.vault, [lead]))[0]


async def add_lead(
    session: AsyncSession,
    vault: Vault,
    *,
    actor: Actor,
    data: LeadCreate,
    lead_id: str | None = None,
    consent_source: consent.Source = consent.Source.API,
    key: bytes | None = None,
) -> Lead:
    """Add a new lead to an open transaction (used by the API and imports).

    PhoneTaken or PhoneRefused when another lead holds its phone (:func:`_check_phone`).
    Its consent goes to the ledger (:func:`_record_creation_consent`); a phone on the
    do-not-contact list opts it out at once. ``key``: the new lead's data key when the caller
    made it already (imports make a batch's keys at once, :meth:`Vault.new_lead_keys`).
    """
    phone = phones.normalize(data.phone) if data.phone else None
    lead = Lead(id=lead_id or new_id(), **data.plain_fields())
    if not actor.is_admin and lead.assigned_agent_id is None and actor.role is Role.AGENT:
        lead.assigned_agent_id = actor.user_id
    await _check_assignment(session, actor, lead.assigned_agent_id)
    await _check_property(session, lead.property_id)
    if phone:
        await _check_phone(session, vault, actor, phone, lead.id)
    # As for an agent's new phone (_phone_change): a wa_id another lead holds stays its own.
    wa_id = phones.to_wa_id(phone) if phone else None
    if wa_id and await _wa_id_taken(session, vault, wa_id, lead.id):
        wa_id = None
    if key is None:
        key = await vault.new_lead_key(lead.id)
    session.add(lead)
    sealed: dict[LeadColumn, str | None] = {"name": data.name, "phone": phone, "wa_id": wa_id}
    seal_identity(vault, lead, key, sealed | {"notes": data.notes, "email": data.email})
    await session.flush()
    await _set_name_tokens(session, vault, lead.id, data.name)
    _record_score_set(session, actor, lead, before=0)
    await _record_creation_consent(session, vault, actor, lead, data, consent_source)
    await consent.apply_do_not_contact(session, vault, lead)
    return lead


async def _record_creation_consent(
    session: AsyncSession,
    vault: Vault,
    actor: Actor,
    lead: Lead,
    data: LeadCreate,
    source: consent.Source,
) -> None:
    """The basis the creator vouches for, in the ledger: ``marketing_basis`` with the words
    the lead saw, or ``opted_in`` (an opt-in; its words when given). Nothing: no basis."""
    if data.source == "web_form" and source is consent.Source.API:
        source = consent.Source.WEB_FORM
    details = {"opt_in_source": data.opt_in_source} if data.opt_in_source else None
    if data.marketing_basis == "inquiry_30a":
        await consent.record(
            session,
            vault,
            lead,
            kind=consent.Kind.BASIS,
            source=source,
            words=data.consent_words,
            actor=actor.email,
            basis=consent.Basis.INQUIRY_30A,
            details=details,
        )
    elif data.marketing_basis == "opt_in" or data.opted_in:
        await consent.record(
            session,
            vault,
            lead,
            kind=consent.Kind.OPT_IN,
            source=source,
            words=data.consent_words,
            actor=actor.email,
            details=details,
        )
        lead.opt_in_source = (data.opt_in_source or source.value)[:64]


async def load_visible(
    session: AsyncSession, actor: Actor, lead_id: str, *, for_update: bool = False
) -> Lead:
    """A lead the actor may see, inside an open session (its row locked when `for_update`,
    see :func:`lock_unerased`); NotFound if none, Gone if it was erased.

    Inside :meth:`ovenai.db.Database.one_transaction` (a page calling many services, each
    checking the lead) the row is read once for the whole transaction and each actor, as
    one session reads a row once: a later call of the same actor gets the same row, the
    check already made (every call that may refuse, refuses: a refusal is not kept). A
    call ``for_update`` always reads and locks the row, and later calls read it again.
    """
    held = shared_reads(session)
    key = f"visible lead {lead_id} {actor.user_id} {actor.role}"
    if held is not None:
        if for_update:
            for name in [name for name in held if name.startswith(f"visible lead {lead_id} ")]:
                del held[name]
        elif key in held:
            found: Lead = held[key]
            return found
    query = select(Lead).where(Lead.id == lead_id, assigned_to(actor))
    lead = await session.scalar(query.with_for_update() if for_update else query)
    if lead is None:
        raise NotFound(f"no lead {lead_id}")
    refuse_erased(lead.id, lead.erased_at)
    if held is not None and not for_update:
        held[key] = lead
    return lead


async def get_lead(db: Database, *, actor: Actor, lead_id: str) -> LeadRecord:
    """One lead the actor may see; NotFound otherwise (never revealing others' leads)."""
    async with db.session() as session:
        lead = await load_visible(session, actor, lead_id)
        audit.record(session, actor=actor, action="view", subject_type="lead", subject_id=lead.id)
        await session.commit()
        return (await open_leads(db.vault, [lead]))[0]


async def update_lead(
    db: Database,
    *,
    actor: Actor,
    lead_id: str,
    changes: LeadUpdate,
    consent_source: consent.Source = consent.Source.AGENT,
) -> LeadRecord:
    """Change the given fields of a lead; Conflict if the new phone is taken (naming the lead
    holding it only if the actor may see it; see the module docstring). A change of
    ``opted_in`` goes to the consent ledger with ``consent_source``."""
    phone = phones.normalize(changes.phone) if changes.phone else None
    async with db.session() as session:
        try:
            lead = await load_visible(session, actor, lead_id, for_update=True)
            await apply_update(
                session,
                db.vault,
                actor=actor,
                lead=lead,
                changes=changes,
                consent_source=consent_source,
            )
            fields = sorted(changes.model_dump(exclude_unset=True))
            audit.record(
                session,
                actor=actor,
                action="update",
                subject_type="lead",
                subject_id=lead.id,
                details={"fields": fields},
            )
            await session.commit()
        except (PhoneRefused, IntegrityError) as clash:
            raise await _refusal(
                session, db.vault, actor, clash, attempt="update", phone=phone, lead_id=lead_id
            ) from None
        return (await open_leads(db.vault, [lead]))[0]


async def apply_update(
    session: AsyncSession,
    vault: Vault,
    *,
    actor: Actor,
    lead: Lead,
    changes: LeadUpdate,
    consent_source: consent.Source = consent.Source.AGENT,
) -> None:
    """Apply an update to a loaded lead inside an open transaction (PhoneTaken or
    PhoneRefused when its new phone is another lead's)."""
    given = changes.model_dump(exclude_unset=True)
    stage_before = lead.stage
    if "assigned_agent_id" in given:
        await _check_assignment(session, actor, given["assigned_agent_id"])
    if "property_id" in given:
        await _check_property(session, given["property_id"])
    score_before = lead.engagement_score
    for name in PLAIN_FIELDS:
        if name in given:
            setattr(lead, name, given[name])
    await _apply_consent(session, vault, actor, lead, given, consent_source)
    _apply_stage(lead, given)
    _record_score_set(session, actor, lead, before=score_before)
    await _apply_sealed(session, vault, actor, lead, given)
    if lead.stage != stage_before:
        await session.flush()
        await hooks.run_after_stage_changed(session, lead, stage_before)


async def _apply_consent(
    session: AsyncSession,
    vault: Vault,
    actor: Actor,
    lead: Lead,
    given: dict[str, Any],
    source: consent.Source,
) -> None:
    """An update's ``opted_in`` through the consent ledger."""
    details = {"opt_in_source": given["opt_in_source"]} if given.get("opt_in_source") else None
    if given.get("opted_in") is True and (lead.opted_in_at is None or lead.opted_out_at):
        kind = consent.Kind.OPT_IN
    elif given.get("opted_in") is False and lead.opted_out_at is None:
        kind = consent.Kind.OPT_OUT
    else:
        return
    await consent.record(
        session,
        vault,
        lead,
        kind=kind,
        source=source,
        actor=actor.email,
        details=details,
    )
    if kind is consent.Kind.OPT_IN:
        lead.opt_in_source = (given.get("opt_in_source") or source.value)[:64]


def _record_score_set(session: AsyncSession, actor: Actor, lead: Lead, *, before: int) -> None:
    """A score written by hand is a change of the score's history (:mod:`ovenai.engagement`)
    too, so a lead's changes always add up to its score."""
    if lead.engagement_score == before:
        return
    change = ScoreChange(
        lead_id=lead.id,
        delta=lead.engagement_score - before,
        score=lead.engagement_score,
        reason=ScoreReason.SET,
        source=f"user:{actor.user_id}" if actor.user_id else "system",
    )
    session.add(change)


def _apply_stage(lead: Lead, given: dict[str, Any]) -> None:
    if "stage" in given:
        lead.closed_at = utcnow() if given["stage"] in CLOSED_STAGES else None


async def _apply_sealed(
    session: AsyncSession, vault: Vault, actor: Actor, lead: Lead, given: dict[str, Any]
) -> None:
    sealed: dict[LeadColumn, str | None] = {
        k: given[k] for k in ("name", "notes", "email") if k in given
    }
    if "phone" in given:
        sealed |= await _phone_change(session, vault, actor, lead, given["phone"])
    if not sealed:
        return
    key = await vault.key("lead", lead.id)
    seal_identity(vault, lead, key, sealed)
    lead.updated_at = utcnow()
    if "name" in sealed:
        await _set_name_tokens(session, vault, lead.id, sealed["name"])


async def _phone_change(
    session: AsyncSession, vault: Vault, actor: Actor, lead: Lead, raw: str | None
) -> dict[LeadColumn, str | None]:
    """The sealed fields an agent's new phone changes: the phone and the wa_id behind it.

    Sends go to the wa_id before the phone (:func:`ovenai.outbox.rules.recipient_of`), so
    a phone the agent changes or clears takes the wa_id with it, as a new lead's phone
    gives it; the same phone again leaves the wa_id (one WhatsApp announced since stays).
    A wa_id another lead holds stays that lead's: this one is then written to at its phone.
    """
    phone = phones.normalize(raw) if raw else None
    if (vault.index("phone", phone) if phone else None) == lead.phone_index:
        return {"phone": phone}
    if phone:
        await _check_phone(session, vault, actor, phone, lead.id)
    wa_id = phones.to_wa_id(phone) if phone else None
    if wa_id and await _wa_id_taken(session, vault, wa_id, lead.id):
        wa_id = None
    return {"phone": phone, "wa_id": wa_id}


async def _wa_id_taken(session: AsyncSession, vault: Vault, wa_id: str, lead_id: str) -> bool:
    query = select(func.count()).where(
        Lead.wa_id_index == vault.index("wa_id", wa_id), Lead.id != lead_id
    )
    return bool(await session.scalar(query))


async def list_leads(
    db: Database,
    *,
    actor: Actor,
    filters: LeadFilter,
) -> Page[LeadRecord]:
    """Leads the actor may see, newest first (``sort=score``: highest engagement score
    first, newest first among equal scores), filtered and searched."""
    query = _filtered(select(Lead).where(visible_to(actor)), db.vault, filters)
    by_score = filters.sort == "score"
    async with db.reading() as session:
        ordered = _by_score(query, filters) if by_score else paginate(query, Lead.id, filters)
        rows = list(await session.scalars(ordered))
        page = page_of(rows, filters, lambda lead: lead.id)
        cursor = page.next_cursor
        if by_score and cursor is not None:
            cursor = f"{page.items[-1].engagement_score}.{cursor}"
        return Page(await open_leads(db.vault, page.items), cursor)


async def by_stage(
    db: Database, *, actor: Actor, stages: Sequence[Stage], per_stage: int
) -> list[tuple[Stage, list[LeadRecord], bool]]:
    """The newest ``per_stage`` leads the actor may see at each stage, as :func:`list_leads`
    filtered by that stage lists them, and whether the stage has more: one transaction and
    one key lookup for every stage (the pipeline board), not one of each a stage."""
    found: list[tuple[Stage, list[Lead], bool]] = []
    async with db.reading() as session:
        for stage in stages:
            filters = LeadFilter(stage=stage, limit=per_stage)
            query = _filtered(select(Lead).where(visible_to(actor)), db.vault, filters)
            rows = list(await session.scalars(paginate(query, Lead.id, filters)))
            page = page_of(rows, filters, lambda lead: lead.id)
            found.append((stage, page.items, page.next_cursor is not None))
    shown = [lead for _stage, leads, _more in found for lead in leads]
    records = {record.id: record for record in await open_leads(db.vault, shown)}
    return [(stage, [records[lead.id] for lead in leads], more) for stage, leads, more in found]


def _by_score(query: Select[Any], filters: LeadFilter) -> Select[Any]:
    """Highest score first, then newest, after the cursor (keyset on score and id: the
    cursor of a page sorted by score is ``<score>.<id cursor>``); one extra row."""
    if filters.cursor:
        score_text, _, rest = filters.cursor.partition(".")
        if not score_text.isdecimal() or len(score_text) > 3:
            raise InvalidInput("the cursor is not valid", field="cursor")
        score, after = int(score_text), decode_cursor(rest)
        query = query.where(
            or_(
                Lead.engagement_score < score,
                and_(Lead.engagement_score == score, Lead.id < after),
            )
        )
    order = (Lead.engagement_score.desc(), Lead.id.desc())
    return query.order_by(*order).limit(filters.limit + 1)


def _filtered(query: Select[Any], vault: Vault, filters: LeadFilter) -> Select[Any]:
    if filters.stage:
        query = query.where(Lead.stage == filters.stage)
    if filters.source:
        query = query.where(Lead.source == filters.source)
    if filters.assigned_agent_id:
        query = query.where(Lead.assigned_agent_id == filters.assigned_agent_id)
    if filters.phone:
        query = query.where(
            Lead.phone_index == vault.index("phone", phones.normalize(filters.phone))
        )
    if filters.email:
        query = query.where(Lead.email_index == vault.index("email", email_key(filters.email)))
    if filters.q:
        query = query.where(_search(vault, filters.q))
    if filters.min_score is not None:
        query = query.where(Lead.engagement_score >= filters.min_score)
    if filters.max_score is not None:
        query = query.where(Lead.engagement_score <= filters.max_score)
    return query


def _search(vault: Vault, q: str) -> ColumnElement[bool]:
    """Match a query as an exact e-mail address, a phone number, or word prefixes of the name."""
    if "@" in q:
        try:
            return Lead.email_index == vault.index("email", email_key(q))
        except ValueError:
            raise InvalidInput("search an e-mail address in full", field="q") from None
    phone = phones.try_normalize(q)
    if phone:
        return Lead.phone_index == vault.index("phone", phone)
    return name_matches(vault, q)


def name_matches(vault: Vault, q: str) -> ColumnElement[bool]:
    """Leads whose name has a word starting with each word of ``q`` (blind-indexed tokens);
    InvalidInput when ``q`` has no letter or digit."""
    tokens = search_index(vault, q)
    if not tokens:
        raise InvalidInput("the search needs at least one letter or digit", field="q")
    matching = (
        select(LeadNameToken.lead_id)
        .where(LeadNameToken.token.in_(tokens))
        .group_by(LeadNameToken.lead_id)
        .having(func.count(LeadNameToken.token.distinct()) == len(tokens))
    )
    return Lead.id.in_(matching)


async def find_by_identity(
    session: AsyncSession,
    vault: Vault,
    *,
    bsuid: str | None = None,
    wa_id: str | None = None,
    phone: str | None = None,
) -> Lead | None:
    """The lead behind a WhatsApp sender: by BSUID, then wa_id (may be absent), then phone.

    The row is read afresh even when the session holds it already: webhook ingestion writes
    leads with Core statements too (:mod:`ovenai.ingest.apply.senders`), which do not
    refresh an object loaded earlier in the same transaction.
    """
    for kind, value in (("bsuid", bsuid), ("wa_id", wa_id), ("phone", phone)):
        if value:
            column = getattr(Lead, f"{kind}_index")
            query = select(Lead).where(column == vault.index(kind, value))
            lead = await session.scalar(query.execution_options(populate_existing=True))
            if lead is not None:
                return lead
    return None
