"""Property-match campaigns: a listing sent to every lead whose criteria it meets.

A campaign belongs to one listing and sends the ``property_details`` family in each lead's
language, with the listing's fields as parameters (``{{1}}`` is the lead's name), through
the outbox: the workers send it within Meta's limits, and the consent rules hold at queue
time and again when each message leaves (:mod:`ovenai.outbox.rules`).

* :func:`preview` — who the listing suits and why (:mod:`ovenai.matching`), and who of
  them is excluded and why (:class:`Reason`); nothing is stored.
* :func:`create` (a draft), :func:`start` (select and queue, in batches of
  :data:`BATCH` leads, each batch one transaction), :func:`launch` (both).
* :func:`pause` holds the campaign's unsent messages (they stay queued, due at
  :data:`HOLD_UNTIL`, and block no other message to the lead); :func:`resume` makes them
  due again; :func:`cancel` fails them with the reason "cancelled with its campaign",
  which the lead's conversation shows. A message a worker already holds leaves regardless.
* :func:`report` — each recipient once, by the furthest its message got: excluded (our
  reason), cancelled, queued, sent, delivered, read or failed (Meta's code and title), and
  whether the lead replied after it; the counts add up to the recipients.

Campaigns start on demand only (the CLI, the REST API, the dashboard): listing a property
starts none. Only admins run campaigns: they write to leads of every agent.

A running campaign becomes ``done`` when none of its messages is still queued or being
sent (seen when it is next read). Only ids and reason codes are stored
(``campaign_recipients``): no personal data.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import audit, dialects, matching, property_files, templates, wakeups
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ovenai.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    Direction,
    DoNotContact,
    Lead,
    Message,
    MessageStatus,
    MessageTemplate,
    Property,
    PropertyStatus,
    RecipientOutcome,
)
from ovenai.outbox import rules
from ovenai.quiet_hours import HELD_INDEFINITELY
from ovenai.sealing import LEADS, MESSAGES, KeyCipher, key_cipher
from ovenai.templates.prepare import file_header
from ovenai.templates.prepare import prepared as prepare_row
from ovenai.templates.text import BODY_LIMIT, value_problem

FAMILY = "property_details"
"""The template family a campaign sends (``property_details_he`` / ``_en``)."""
BATCH = 2000
"""Leads queued per transaction by :func:`start`."""
IN_FLIGHT = 2
"""Batches :func:`start` works on at once (one filled and sealed while another is written)."""
SELECT_CHUNK = 10_000
"""Leads of the selection matched at a time by :func:`start` (the batches found meanwhile
are queued while the next part is matched)."""
HOLD_UNTIL = HELD_INDEFINITELY
"""Where a paused campaign's unsent messages wait (``send_after`` and ``next_attempt_at``)."""
CANCELLED_TITLE = "Cancelled with its campaign before it was sent"
IN_OUTBOX = (MessageStatus.QUEUED.value, MessageStatus.SENDING.value)


class Reason(StrEnum):
    """Why a matching lead is not sent the campaign (checked in this order)."""

    DO_NOT_CONTACT = "do_not_contact"
    OPTED_OUT = "opted_out"
    NO_BASIS = "no_basis"
    NO_ADDRESS = "no_address"
    NO_LANGUAGE = "no_language"
    ALREADY_MESSAGED = "already_messaged"
    NO_NAME = "no_name"
    ERASED = "erased"


REASONS: dict[str, str] = {
    Reason.DO_NOT_CONTACT: "the phone is on the do-not-contact list",
    Reason.OPTED_OUT: "the lead opted out of marketing",
    Reason.NO_BASIS: "no lawful basis for marketing is recorded (no opt-in, no §30A inquiry)",
    Reason.NO_ADDRESS: "the lead has no phone number or WhatsApp id to send to",
    Reason.NO_LANGUAGE: "no approved property_details template in the lead's language",
    Reason.ALREADY_MESSAGED: "an earlier campaign already sent this listing to the lead",
    Reason.NO_NAME: "the lead has no name the template's greeting can use",
    Reason.ERASED: "the lead was erased meanwhile",
}
"""Each reason as agents read it (the dashboard translates these)."""

OUTCOMES = ("excluded", "cancelled", "queued", "sent", "delivered", "read", "failed")
"""What a recipient's report line says, each recipient exactly one of these."""


class CampaignNotAllowed(Conflict):
    """A change the campaign's status does not allow (starting a running one ...)."""

    def __init__(self, status: str, verb: str) -> None:
        super().__init__(f"the campaign is {status}: it cannot be {verb}", field="status")


@dataclass(frozen=True)
class CampaignRecord:
    """A campaign as the API, the CLI and the dashboard show it."""

    id: str
    property_id: str | None
    template: str
    status: str
    criteria: dict[str, Any]
    created_by: str
    created_at: datetime
    started_at: datetime | None
    paused_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class PreviewLead:
    """A matching lead in a preview: sent to, or excluded with ``reason``; ``checks`` are
    the criteria that hold (why the listing suits the lead)."""

    lead_id: str
    name: str | None
    language: str
    checks: list[matching.Check]
    reason: str | None
    reason_text: str | None


@dataclass(frozen=True)
class Preview:
    """Who a listing's campaign would reach and who it would not, with why."""

    property_id: str
    template: str
    tolerance: Decimal
    recipients: list[PreviewLead]
    excluded: list[PreviewLead]
    not_matching: int


@dataclass(frozen=True)
class ReportLine:
    """One recipient: its outcome, our reason or Meta's, and whether the lead replied."""

    lead_id: str
    name: str | None
    outcome: str
    reason: str | None
    error_code: int | None
    message_id: str | None
    replied: bool


@dataclass(frozen=True)
class ReportTotals:
    """The counts of each outcome; they add up to ``recipients``. ``replied`` counts the
    leads among the sent, delivered and read who wrote after the message."""

    recipients: int
    excluded: int
    cancelled: int
    queued: int
    sent: int
    delivered: int
    read: int
    failed: int
    replied: int


@dataclass(frozen=True)
class CampaignReport:
    """A campaign, its totals and every recipient's line."""

    campaign: CampaignRecord
    totals: ReportTotals
    lines: list[ReportLine]
    excluded_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass
class _Candidate:
    """A lead whose criteria the listing meets, with what decides whether it is sent."""

    lead_id: str
    language: str
    checks: tuple[matching.Check, ...]
    reason: str | None


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("only admins run campaigns: they write to every agent's leads")


def _record(row: Campaign) -> CampaignRecord:
    return CampaignRecord(
        id=row.id,
        property_id=row.property_id,
        template=row.template,
        status=row.status,
        criteria=dict(row.criteria),
        created_by=row.created_by,
        created_at=row.created_at,
        started_at=row.started_at,
        paused_at=row.paused_at,
        finished_at=row.finished_at,
    )


def _number(value: Decimal | int | None) -> str | None:
    return None if value is None else format(Decimal(value).normalize(), "f")


def _listing_values(prop: Property) -> dict[str, str | None]:
    """The template's values from the listing (all but the lead's name)."""
    return {
        "property_city": prop.city,
        "property_area": prop.area,
        "rooms": _number(prop.rooms),
        "size_m2": _number(prop.size_m2),
        "price": None if prop.price is None else f"₪{prop.price:,}",
        "meeting_time": None,
        "documents": None,
    }


def _params(prop: Property, name: str) -> list[str]:
    """``property_details``'s parameters for one lead; InvalidInput names a missing field."""
    return templates.fill_params(FAMILY, lead_name=name, **_listing_values(prop))


def _snapshot(prop: Property) -> dict[str, Any]:
    return {
        "property": {
            "title": prop.title,
            "city": prop.city,
            "area": prop.area,
            "rooms": _number(prop.rooms),
            "size_m2": prop.size_m2,
            "price": prop.price,
        },
        "tolerance": str(matching.BUDGET_TOLERANCE),
        "stages": sorted(matching.OPEN_STAGES),
    }


def describe(check: matching.Check) -> str:
    """A criterion that holds, in English (``city: חיפה ~ חיפה``)."""
    stretched = " (within the budget tolerance)" if check.within_tolerance else ""
    return f"{check.criterion.value}: {check.wanted} ~ {check.offered}{stretched}"


async def _listing(session: AsyncSession, property_id: str) -> Property:
    prop = await session.get(Property, property_id)
    if prop is None:
        raise NotFound(f"no property {property_id}")
    return prop


def listing_problem(prop: Property) -> str | None:
    """Why a listing cannot be campaigned: ``unavailable`` (sold, withdrawn ...),
    ``incomplete`` (no rooms, size or price for the template), or None."""
    if prop.status != PropertyStatus.AVAILABLE:
        return "unavailable"
    try:
        _params(prop, "-")
    except InvalidInput:
        return "incomplete"
    return None


def _check_listing(prop: Property) -> None:
    if prop.status != PropertyStatus.AVAILABLE:
        raise Conflict(f"the listing is {prop.status}: only an available one is campaigned")
    _params(prop, "-")  # InvalidInput when the listing lacks a field the template needs


async def _templates_by_language(
    session: AsyncSession, waba_id: str, languages: Iterable[str]
) -> dict[str, MessageTemplate | None]:
    """The approved template of the family in each language (None: there is none)."""
    found: dict[str, MessageTemplate | None] = {}
    for language in set(languages):
        try:
            found[language] = await templates.choose(
                session, waba_id=waba_id, template=FAMILY, language=language, fallback=False
            )
        except (templates.TemplateNotFound, templates.TemplateNotApproved):
            found[language] = None
    return found


def _selection(prop: Property, campaign_id: str | None) -> Any:
    """Every unerased lead's criteria, consent and what else decides the campaign."""
    listed = exists().where(DoNotContact.phone_index == Lead.phone_index)
    earlier = (
        exists()
        .where(
            CampaignRecipient.lead_id == Lead.id,
            CampaignRecipient.outcome == RecipientOutcome.QUEUED,
            CampaignRecipient.campaign_id == Campaign.id,
            Campaign.property_id == prop.id,
            Campaign.id != (campaign_id or ""),
        )
        .correlate(Lead)
    )
    addressable = or_(
        Lead.bsuid_enc.is_not(None), Lead.wa_id_enc.is_not(None), Lead.phone_enc.is_not(None)
    )
    return select(
        *matching.CRITERIA_COLUMNS,
        Lead.language,
        Lead.marketing_basis,
        Lead.opted_out_at.is_not(None).label("opted_out"),  # no timestamp converted a lead
        addressable.label("addressable"),
        Lead.phone_index.is_not(None).label("has_phone_index"),
        listed.label("listed"),
        earlier.label("messaged"),
    ).where(Lead.erased_at.is_(None))


def _reason(row: Any, chosen: dict[str, MessageTemplate | None]) -> str | None:
    if row.has_phone_index and row.listed:
        return Reason.DO_NOT_CONTACT
    if row.opted_out:
        return Reason.OPTED_OUT
    if row.marketing_basis is None:
        return Reason.NO_BASIS
    if not row.addressable:
        return Reason.NO_ADDRESS
    if chosen.get(row.language) is None:
        return Reason.NO_LANGUAGE
    if row.messaged:
        return Reason.ALREADY_MESSAGED
    return None


class _Selection:
    """The leads a listing suits: every unerased lead read by one query (:meth:`read`),
    then matched a part at a time (:meth:`matched`), each with its exclusion reason."""

    def __init__(
        self,
        prop: Property,
        *,
        waba_id: str,
        campaign_id: str | None,
        tolerance: Decimal = matching.BUDGET_TOLERANCE,
        stages: Collection[str] = matching.OPEN_STAGES,
    ) -> None:
        self.prop, self.waba_id, self.campaign_id = prop, waba_id, campaign_id
        self.tolerance, self.stages = tolerance, stages
        self.chosen: dict[str, MessageTemplate | None] = {}
        self.not_matching = 0
        # Leads with the same criteria get the same checks: compare each set of criteria once.
        self._checked: dict[tuple[Any, ...], list[matching.Check]] = {}

    async def read(self, session: AsyncSession) -> Sequence[Any]:
        """Every unerased lead's row, and the template of each of their languages."""
        rows = (await session.execute(_selection(self.prop, self.campaign_id))).all()
        languages = {row.language for row in rows}
        self.chosen = await _templates_by_language(session, self.waba_id, languages)
        return rows

    def matched(self, rows: Sequence[Any]) -> list[_Candidate]:
        """The leads of these rows the listing suits (the others are counted)."""
        found: list[_Candidate] = []
        for row in rows:
            criteria = tuple(row[1:9])
            checks = self._checked.get(criteria)
            if checks is None:
                checks = matching.check_lead(
                    self.prop, row, tolerance=self.tolerance, stages=self.stages
                )
                self._checked[criteria] = checks
            if not all(check.passed for check in checks):
                self.not_matching += 1
                continue
            reason = _reason(row, self.chosen)
            found.append(_Candidate(row.id, row.language, tuple(checks), reason))
        return found


async def _candidates(
    session: AsyncSession, prop: Property, *, waba_id: str, campaign_id: str | None
) -> tuple[list[_Candidate], int]:
    """The leads the listing suits (each with its exclusion reason, if any) and how many it
    does not suit."""
    selection = _Selection(prop, waba_id=waba_id, campaign_id=campaign_id)
    found = selection.matched(await selection.read(session))
    return found, selection.not_matching


def _name(
    key: bytes | KeyCipher, lead_id: str, name_enc: bytes | None, profile_enc: bytes | None
) -> str | None:
    """A lead's name (else its WhatsApp profile name) as the greeting uses it."""
    cipher = LEADS.cipher(key, lead_id)
    name = cipher.open("name", name_enc) or cipher.open("profile_name", profile_enc)
    return " ".join(name.split()) if name else None


async def _names(
    db: Database, session: AsyncSession, lead_ids: Sequence[str]
) -> dict[str, str | None]:
    """The names of leads (None: erased meanwhile, or no name), read in chunks."""
    names: dict[str, str | None] = {}
    for begin in range(0, len(lead_ids), BATCH):
        chunk = lead_ids[begin : begin + BATCH]
        listed = dialects.one_of(session, Lead.id, chunk)
        query = select(Lead.id, Lead.name_enc, Lead.profile_name_enc).where(listed)
        rows = (await session.execute(query)).all()
        keys = await db.vault.surviving_lead_keys([row.id for row in rows])
        for row in rows:
            key = keys.get(row.id)
            names[row.id] = _name(key, row.id, row.name_enc, row.profile_name_enc) if key else None
    return names


_STAND_IN = "LEADNAMESTANDIN"
_QUOTED_STAND_IN = json.dumps(_STAND_IN)


@dataclass(frozen=True, slots=True)
class _Filled:
    """One lead's template as its message stores it: the text the lead reads, the body
    parameters as JSON and the header's payload as JSON (None: no header parameters or file)."""

    rendered: str
    params: str
    payload: str | None


def _filled(prepared: templates.PreparedTemplate) -> _Filled:
    """A prepared template's columns (as :func:`ovenai.outbox.queue.enqueue_template` writes
    them; without header parameters or file no payload: the claim reads None as none)."""
    payload = (
        json.dumps(
            {"header_params": list(prepared.header_params), "header_file": prepared.header_file}
        )
        if prepared.header_params or prepared.header_file
        else None
    )
    return _Filled(prepared.rendered, json.dumps(prepared.body_params), payload)


def _stand_ins(params: list[str] | dict[str, str]) -> int:
    values = params.values() if isinstance(params, dict) else params
    return sum(value == _STAND_IN for value in values)


class _Filler:
    """One language's template filled for many leads: prepared (and checked) once with a
    stand-in name, then each lead's name checked as the preparation checks a value and put
    in its place (in the text, and in the parameters' JSON as a JSON string); a name that
    does not pass is prepared in full, which decides."""

    def __init__(self, row: MessageTemplate, prop: Property, header_file: str | None) -> None:
        self.row, self.prop, self.header_file = row, prop, header_file
        base = self._prepared(_STAND_IN)
        self.name, self.language, self.category = base.name, base.language, base.category
        self.base = _filled(base)
        self.body_params = base.body_params
        # The parameters' JSON with the quoted stand-in where the name goes, when it occurs
        # there only (a listing's value holding the stand-in's text would make it ambiguous).
        exact = self.base.params.count(_QUOTED_STAND_IN) == _stand_ins(base.body_params)
        self.params_json = self.base.params if exact else None

    def _prepared(self, name: str) -> templates.PreparedTemplate:
        prepared = prepare_row(self.row, _params(self.prop, name), [])
        return replace(prepared, header_file=self.header_file)

    def fill(self, name: str) -> _Filled | None:
        """The template for a lead of this name; None when the name cannot be used."""
        rendered = self.base.rendered.replace(_STAND_IN, name)
        if _STAND_IN in name or value_problem(name, BODY_LIMIT) or len(rendered) > BODY_LIMIT:
            try:
                return _filled(self._prepared(name))
            except InvalidInput:
                return None
        if self.params_json is not None:
            params = self.params_json.replace(_QUOTED_STAND_IN, json.dumps(name))
        elif isinstance(self.body_params, dict):
            named = {k: name if v == _STAND_IN else v for k, v in self.body_params.items()}
            params = json.dumps(named)
        else:
            params = json.dumps([name if v == _STAND_IN else v for v in self.body_params])
        return _Filled(rendered, params, self.base.payload)


async def preview(db: Database, *, actor: Actor, property_id: str, waba_id: str) -> Preview:
    """Who a campaign of this listing would reach (and why the listing suits them), who it
    would not (and why); nothing is stored."""
    _require_admin(actor)
    async with db.session() as session:
        prop = await _listing(session, property_id)
        found, not_matching = await _candidates(session, prop, waba_id=waba_id, campaign_id=None)
        names = await _names(db, session, [candidate.lead_id for candidate in found])
    recipients: list[PreviewLead] = []
    excluded: list[PreviewLead] = []
    for candidate in found:
        name = names.get(candidate.lead_id)
        reason = candidate.reason
        if reason is None and name is None:
            reason = Reason.NO_NAME
        line = PreviewLead(
            lead_id=candidate.lead_id,
            name=name,
            language=candidate.language,
            checks=list(candidate.checks),
            reason=reason,
            reason_text=REASONS[reason] if reason else None,
        )
        (excluded if reason else recipients).append(line)
    return Preview(
        property_id=property_id,
        template=FAMILY,
        tolerance=matching.BUDGET_TOLERANCE,
        recipients=recipients,
        excluded=excluded,
        not_matching=not_matching,
    )


async def create(db: Database, *, actor: Actor, property_id: str) -> CampaignRecord:
    """A draft campaign of an available listing that has every field the template needs."""
    _require_admin(actor)
    async with db.session() as session:
        prop = await _listing(session, property_id)
        _check_listing(prop)
        row = Campaign(
            id=new_id(),
            property_id=prop.id,
            template=FAMILY,
            status=CampaignStatus.DRAFT,
            criteria=_snapshot(prop),
            created_by_id=actor.user_id,
            created_by=actor.email[:254],
        )
        session.add(row)
        audit.record(
            session,
            actor=actor,
            action="create",
            subject_type="campaign",
            subject_id=row.id,
            details={"property": prop.id},
        )
        await session.commit()
    return _record(row)


async def _transition(
    db: Database,
    actor: Actor,
    campaign_id: str,
    *,
    allowed: Collection[str],
    to: CampaignStatus,
    verb: str,
    **changes: Any,
) -> Campaign:
    """Move a campaign from one of ``allowed`` to ``to`` (one conditional UPDATE, so two
    callers never both do it), audited."""
    _require_admin(actor)
    async with db.session() as session:
        row = await session.get(Campaign, campaign_id)
        if row is None:
            raise NotFound(f"no campaign {campaign_id}")
        now = utcnow()
        result = await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status.in_(list(allowed)))
            .values(status=to, updated_at=now, **changes)
        )
        if dialects.rowcount(result) != 1:
            await session.rollback()
            await session.refresh(row)
            raise CampaignNotAllowed(row.status, verb)
        audit.record(
            session,
            actor=actor,
            action="update",
            subject_type="campaign",
            subject_id=campaign_id,
            details={"campaign": verb},
        )
        await session.commit()
        await session.refresh(row)
    return row


async def start(db: Database, *, actor: Actor, campaign_id: str, waba_id: str) -> CampaignRecord:
    """Select the leads the listing suits now and queue the template to each that may have
    it, in batches; each excluded one is recorded with its reason."""
    async with db.session() as session:
        draft = await session.get(Campaign, campaign_id)
        if draft is None:
            raise NotFound(f"no campaign {campaign_id}")
        if draft.property_id is None:
            raise Conflict("the campaign's listing no longer exists")
        prop = await _listing(session, draft.property_id)
        _check_listing(prop)
        header_files = await _header_files(session, prop, waba_id)
    row = await _transition(
        db,
        actor,
        campaign_id,
        allowed=(CampaignStatus.DRAFT,),
        to=CampaignStatus.RUNNING,
        verb="started",
        started_at=utcnow(),
        criteria=_snapshot(prop),
    )
    selection = _Selection(prop, waba_id=waba_id, campaign_id=campaign_id)
    async with db.session() as session:
        rows = await selection.read(session)
    fillers = {
        language: _Filler(t, prop, header_files.get(t.name))
        for language, t in selection.chosen.items()
        if t is not None
    }
    turns = asyncio.Semaphore(IN_FLIGHT)

    async def queue(batch: list[_Candidate]) -> None:
        async with turns:
            await _queue_batch(db, row, batch, fillers, actor)

    # The rows are matched SELECT_CHUNK at a time while the batches already found are
    # queued (IN_FLIGHT at once: one filled and sealed while another is written); an error
    # in one cancels the others (each batch is its own transaction).
    async with asyncio.TaskGroup() as group:
        waiting: list[_Candidate] = []
        for begin in range(0, len(rows), SELECT_CHUNK):
            waiting += selection.matched(rows[begin : begin + SELECT_CHUNK])
            while len(waiting) >= BATCH:
                group.create_task(queue(waiting[:BATCH]))
                del waiting[:BATCH]
            await asyncio.sleep(0)  # the batches started send their first statements
        if waiting:
            group.create_task(queue(waiting))
    return await get(db, actor=actor, campaign_id=campaign_id)


async def _header_files(
    session: AsyncSession, prop: Property, waba_id: str
) -> dict[str, str | None]:
    """The listing file each approved template of the family carries in its image or
    document header (by template name); Conflict when one needs a file the listing lacks."""
    query = select(MessageTemplate).where(
        MessageTemplate.waba_id == waba_id,
        MessageTemplate.family == FAMILY,
        func.upper(MessageTemplate.status) == "APPROVED",
    )
    found: dict[str, str | None] = {}
    for template in await session.scalars(query):
        kind = file_header(template.components)
        if kind is None:
            continue
        found[template.name] = await property_files.header_file(
            session, kind, file_id=None, property_id=prop.id
        )
        if found[template.name] is None:
            role = property_files.ROLE_OF_KIND[kind].value
            raise Conflict(
                f"template {template.name} shows the listing's {role}, and the listing has "
                f"none: add one on the listing's page first"
            )
    return found


async def launch(db: Database, *, actor: Actor, property_id: str, waba_id: str) -> CampaignRecord:
    """Create a listing's campaign and start it."""
    draft = await create(db, actor=actor, property_id=property_id)
    return await start(db, actor=actor, campaign_id=draft.id, waba_id=waba_id)


async def _queue_batch(
    db: Database,
    campaign: Campaign,
    batch: list[_Candidate],
    fillers: dict[str, _Filler],
    actor: Actor,
) -> None:
    """Queue one batch in one transaction: the leads' rows locked against an erasure and
    their consent read again under the lock; the messages and recipient rows inserted."""
    async with db.session() as session:
        ids = [candidate.lead_id for candidate in batch]
        locked = select(
            Lead.id, Lead.opted_out_at, Lead.marketing_basis, Lead.name_enc, Lead.profile_name_enc
        ).where(dialects.one_of(session, Lead.id, ids), Lead.erased_at.is_(None))
        alive = {row.id: row for row in await session.execute(locked.with_for_update())}
        wanted = [c.lead_id for c in batch if c.reason is None and c.lead_id in alive]
        keys = await db.vault.surviving_lead_keys(wanted)
        now = utcnow()
        messages: list[tuple[Any, ...]] = []
        recipients: list[tuple[Any, ...]] = []
        for candidate in batch:
            lead_id = candidate.lead_id
            reason = candidate.reason
            lead = alive.get(lead_id)
            key = keys.get(lead_id)
            message: tuple[Any, ...] | None = None
            if reason is not None:
                pass
            elif lead is None or key is None:
                reason = Reason.ERASED
            elif lead.opted_out_at is not None:
                reason = Reason.OPTED_OUT
            elif lead.marketing_basis is None:
                reason = Reason.NO_BASIS
            else:
                # One cipher of the lead's key opens its name and seals its message.
                cipher = key_cipher(key)
                name = _name(cipher, lead_id, lead.name_enc, lead.profile_name_enc)
                filler = fillers[candidate.language]
                filled = filler.fill(name) if name else None
                if filled is None:
                    reason = Reason.NO_NAME
                else:
                    rules.check_category(
                        filler.category, lead.opted_out_at, filler.name, basis=lead.marketing_basis
                    )
                    message = _message(campaign.id, lead_id, filler, filled, cipher, now, actor)
                    messages.append(message)
            recipients.append(
                (campaign.id, lead_id, RecipientOutcome.EXCLUDED.value, reason, None, now)
                if message is None
                else (campaign.id, lead_id, RecipientOutcome.QUEUED.value, None, message[0], now)
            )
        await _insert(session, Message.__table__, _MESSAGE_COLUMNS, messages)
        await _insert(session, CampaignRecipient.__table__, _RECIPIENT_COLUMNS, recipients)
        if messages:
            await wakeups.announce(session)
        await session.commit()


_RECIPIENT_COLUMNS = ("campaign_id", "lead_id", "outcome", "reason", "message_id", "created_at")
"""The columns of a recipient row as :func:`_queue_batch` makes it."""


async def _insert(
    session: AsyncSession, table: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert rows, each a tuple of the columns' values: PostgreSQL's binary COPY (the
    messages' sealed bytes too), SQLite's executemany."""
    if not rows:
        return
    if not dialects.is_postgresql(session):
        await session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    types = await _column_types(driver, table.name)
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    async with driver.cursor() as cursor, cursor.copy(statement) as copy:
        # Binary, each column's type told once: about 4 times faster than text COPY, where
        # psycopg chooses and runs a text dumper for every value.
        copy.set_types([types[name] for name in columns])
        for row in rows:
            await copy.write_row(row)


_COLUMN_TYPES: dict[str, dict[str, int]] = {}


async def _column_types(driver: Any, table: str) -> dict[str, int]:
    """The type oid of each column of a table, as the database has it (read once a
    process: a migration that changes a column's type restarts the processes)."""
    found = _COLUMN_TYPES.get(table)
    if found is None:
        async with driver.cursor() as cursor:
            await cursor.execute(
                "SELECT attname, atttypid FROM pg_attribute"
                " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                (table,),
            )
            found = _COLUMN_TYPES[table] = {name: int(oid) for name, oid in await cursor.fetchall()}
    return found


_MESSAGE_COLUMNS = (
    "id",
    "lead_id",
    "direction",
    "type",
    "status",
    "status_at",
    "created_at",
    "updated_at",
    "send_after",
    "next_attempt_at",
    "attempts",
    "throttled_attempts",
    "template_name",
    "template_language",
    "category",
    "sent_by_id",
    "idempotency_key",
    "text_enc",
    "template_params_enc",
    "payload_enc",
)
"""The columns of a message row as :func:`_message` makes it (its id first)."""


def _message(
    campaign_id: str,
    lead_id: str,
    filler: _Filler,
    filled: _Filled,
    key: KeyCipher,
    now: datetime,
    actor: Actor,
) -> tuple[Any, ...]:
    """A queued template message's columns (:data:`_MESSAGE_COLUMNS`), as
    :func:`ovenai.outbox.queue.enqueue_template` writes them (sealed under the lead's key)."""
    message_id = new_id()
    cipher = MESSAGES.cipher(key, message_id)
    return (
        message_id,
        lead_id,
        Direction.OUTBOUND.value,
        "template",
        MessageStatus.QUEUED.value,
        now,
        now,
        now,
        None,
        now,
        0,
        0,
        filler.name,
        filler.language,
        filler.category.upper(),
        actor.user_id,
        f"campaign:{campaign_id}:{lead_id}",
        cipher.seal("text", filled.rendered),
        cipher.seal("template_params", filled.params),
        cipher.seal("payload", filled.payload),
    )


def _campaign_messages(campaign_id: str) -> Any:
    return select(CampaignRecipient.message_id).where(
        CampaignRecipient.campaign_id == campaign_id,
        CampaignRecipient.outcome == RecipientOutcome.QUEUED,
        CampaignRecipient.message_id.is_not(None),
    )


async def pause(db: Database, *, actor: Actor, campaign_id: str) -> CampaignRecord:
    """Hold the campaign's unsent messages until it is resumed."""
    await _transition(
        db,
        actor,
        campaign_id,
        allowed=(CampaignStatus.RUNNING,),
        to=CampaignStatus.PAUSED,
        verb="paused",
        paused_at=utcnow(),
    )
    async with db.session() as session:
        await session.execute(
            update(Message)
            .where(
                Message.id.in_(_campaign_messages(campaign_id)),
                Message.status == MessageStatus.QUEUED,
            )
            .values(send_after=HOLD_UNTIL, next_attempt_at=HOLD_UNTIL, updated_at=utcnow())
        )
        await session.commit()
    return await get(db, actor=actor, campaign_id=campaign_id)


async def resume(db: Database, *, actor: Actor, campaign_id: str) -> CampaignRecord:
    """Let the held messages of a paused campaign leave again."""
    await _transition(
        db,
        actor,
        campaign_id,
        allowed=(CampaignStatus.PAUSED,),
        to=CampaignStatus.RUNNING,
        verb="resumed",
        paused_at=None,
    )
    async with db.session() as session:
        now = utcnow()
        await session.execute(
            update(Message)
            .where(
                Message.id.in_(_campaign_messages(campaign_id)),
                Message.status == MessageStatus.QUEUED,
                Message.send_after == HOLD_UNTIL,
            )
            .values(send_after=None, next_attempt_at=now, updated_at=now)
        )
        await session.commit()
    return await get(db, actor=actor, campaign_id=campaign_id)


async def cancel(db: Database, *, actor: Actor, campaign_id: str) -> CampaignRecord:
    """Cancel the campaign: its unsent messages fail with "cancelled with its campaign"
    (shown in each lead's conversation) and their recipients are reported cancelled."""
    now = utcnow()
    await _transition(
        db,
        actor,
        campaign_id,
        allowed=(CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED),
        to=CampaignStatus.CANCELLED,
        verb="cancelled",
        finished_at=now,
    )
    async with db.session() as session:
        result = await session.execute(
            update(Message)
            .where(
                Message.id.in_(_campaign_messages(campaign_id)),
                Message.status == MessageStatus.QUEUED,
            )
            .values(
                status=MessageStatus.FAILED,
                status_at=now,
                failed_at=now,
                updated_at=now,
                next_attempt_at=None,
                error_title=CANCELLED_TITLE,
            )
            .returning(Message.id)
        )
        cancelled = list(result.scalars())
        for begin in range(0, len(cancelled), BATCH):
            await session.execute(
                update(CampaignRecipient)
                .where(
                    CampaignRecipient.campaign_id == campaign_id,
                    CampaignRecipient.message_id.in_(cancelled[begin : begin + BATCH]),
                )
                .values(outcome=RecipientOutcome.CANCELLED, reason="cancelled")
            )
        await session.commit()
    return await get(db, actor=actor, campaign_id=campaign_id)


async def _settle(session: AsyncSession, row: Campaign) -> None:
    """A running campaign none of whose messages is left in the outbox is done."""
    if row.status != CampaignStatus.RUNNING:
        return
    waiting = await session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.id.in_(_campaign_messages(row.id)), Message.status.in_(IN_OUTBOX))
    )
    if waiting:
        return
    now = utcnow()
    await session.execute(
        update(Campaign)
        .where(Campaign.id == row.id, Campaign.status == CampaignStatus.RUNNING)
        .values(status=CampaignStatus.DONE, finished_at=now, updated_at=now)
    )
    await session.commit()
    await session.refresh(row)


async def get(db: Database, *, actor: Actor, campaign_id: str) -> CampaignRecord:
    """One campaign."""
    _require_admin(actor)
    async with db.session() as session:
        row = await session.get(Campaign, campaign_id)
        if row is None:
            raise NotFound(f"no campaign {campaign_id}")
        await _settle(session, row)
    return _record(row)


async def list_campaigns(
    db: Database, *, actor: Actor, property_id: str | None = None, limit: int = 200
) -> list[CampaignRecord]:
    """Campaigns, newest first (a listing's only, when given)."""
    _require_admin(actor)
    query = select(Campaign).order_by(Campaign.id.desc()).limit(limit)
    if property_id is not None:
        query = query.where(Campaign.property_id == property_id)
    async with db.session() as session:
        rows = list(await session.scalars(query))
        for row in rows:
            await _settle(session, row)
    return [_record(row) for row in rows]


def _outcome(recipient: Any) -> tuple[str, str | None]:
    """A recipient's report outcome and reason (ours, or Meta's code and title)."""
    if recipient.outcome != RecipientOutcome.QUEUED:
        return str(recipient.outcome), recipient.reason
    status = recipient.status
    if status is None:
        return "failed", "the message no longer exists"
    if status in IN_OUTBOX:
        return "queued", None
    if status == MessageStatus.FAILED:
        code = f"{recipient.error_code}: " if recipient.error_code is not None else ""
        return "failed", f"{code}{recipient.error_title or 'failed'}"
    return str(status), None


async def report(
    db: Database, *, actor: Actor, campaign_id: str, limit: int | None = None
) -> CampaignReport:
    """Every recipient's outcome (the first ``limit`` lines only, when given, by lead id)
    and the totals over all of them (they add up to the recipients)."""
    campaign = await get(db, actor=actor, campaign_id=campaign_id)
    sent = Message.__table__.alias("sent")
    inbound = Message.__table__.alias("inbound")
    answered = exists().where(
        inbound.c.lead_id == CampaignRecipient.lead_id,
        inbound.c.direction == Direction.INBOUND,
        inbound.c.created_at > sent.c.sent_at,
    )
    query = (
        select(
            CampaignRecipient.lead_id,
            CampaignRecipient.outcome,
            CampaignRecipient.reason,
            CampaignRecipient.message_id,
            sent.c.status,
            sent.c.error_code,
            sent.c.error_title,
            and_(sent.c.sent_at.is_not(None), answered).label("replied"),
        )
        .select_from(CampaignRecipient)
        .outerjoin(sent, sent.c.id == CampaignRecipient.message_id)
        .where(CampaignRecipient.campaign_id == campaign_id)
        .order_by(CampaignRecipient.lead_id)
    )
    async with db.reading() as session:
        rows = (await session.execute(query)).all()
        shown = rows if limit is None else rows[:limit]
        names = await _names(db, session, [row.lead_id for row in shown])
    lines: list[ReportLine] = []
    counts = dict.fromkeys(OUTCOMES, 0)
    by_reason: dict[str, int] = {}
    replied = 0
    for index, row in enumerate(rows):
        outcome, reason = _outcome(row)
        counts[outcome] += 1
        replied += bool(row.replied)
        if outcome == "excluded" and reason:
            by_reason[reason] = by_reason.get(reason, 0) + 1
        if index >= len(shown):
            continue
        lines.append(
            ReportLine(
                lead_id=row.lead_id,
                name=names.get(row.lead_id),
                outcome=outcome,
                reason=reason,
                error_code=row.error_code if outcome == "failed" else None,
                message_id=row.message_id,
                replied=bool(row.replied),
            )
        )
    totals = ReportTotals(recipients=len(rows), replied=replied, **counts)
    return CampaignReport(campaign, totals, lines, by_reason)


def reason_text(reason: str | None) -> str | None:
    """A reason code as agents read it (Meta's reasons are returned as they are)."""
    if reason is None:
        return None
    return REASONS.get(reason, reason)
