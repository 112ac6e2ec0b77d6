"""What an agent may write to a lead now, and the send itself (the lead page's composer).

Free text only while the lead's 24-hour window is open (:func:`ovenai.outbox.rules.window_open`);
templates always: the approved families of the business account, each in the lead's
language where the family has it, its parameters pre-filled from the lead, their property
and next viewing, a value the data lacks left empty for the agent to type. While the window
is open, a listing's photo or brochure too (:mod:`ovenai.property_files`), the lead's listing
first. The preview is the exact text the send would queue (the same
:func:`ovenai.outbox.queue.prepare_for_lead`), and sends go through
:func:`ovenai.outbox.queue.send_message`: the outbox, its rules and its limits apply as to
any other send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import templates
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.leads import LeadRecord, load_visible, open_leads
from ovenai.models import MessageTemplate, Property, PropertyFile, PropertyStatus
from ovenai.outbox import queue, rules
from ovenai.quiet_hours import QuietHours
from ovenai.templates.prepare import FALLBACK_ORDER

APPROVED = "APPROVED"


@dataclass(frozen=True)
class Family:
    """A template family the composer offers, in the language the lead would get it."""

    family: str
    name: str
    language: str
    category: str


@dataclass(frozen=True)
class Draft:
    """The chosen family's parameters, in placeholder order (``{{1}}``, ``{{2}}`` ...)."""

    family: Family
    placeholders: list[str]
    params: list[str]


@dataclass(frozen=True)
class FileChoice:
    """A listing's photo or brochure the lead may be sent while the window is open."""

    id: str
    property_title: str
    role: str
    filename: str
    of_interest: bool  # the listing the lead asked about


@dataclass(frozen=True)
class Options:
    """The composer of one lead: its window, the templates and the listing files it may be
    sent."""

    window_open: bool
    window_closes_at: datetime | None
    opted_out: bool
    families: list[Family]
    draft: Draft | None
    files: list[FileChoice] = field(default_factory=list)


FILE_CHOICES = 60
"""At most this many listing files are offered (the lead's listing's first)."""


async def _file_choices(session: AsyncSession, property_id: str | None) -> list[FileChoice]:
    """Files of the lead's listing, then of the other available listings, photos first."""
    interest = PropertyFile.property_id == (property_id or "")
    query = (
        select(PropertyFile, Property.title, Property.city)
        .join(Property, Property.id == PropertyFile.property_id)
        .where(or_(interest, Property.status == PropertyStatus.AVAILABLE))
        .order_by(
            interest.desc(),
            Property.title,
            Property.id,
            PropertyFile.role.desc(),
            PropertyFile.position,
        )
        .limit(FILE_CHOICES)
    )
    return [
        FileChoice(
            id=row.id,
            property_title=title or city,
            role=row.role,
            filename=row.filename,
            of_interest=row.property_id == property_id,
        )
        for row, title, city in (await session.execute(query)).all()
    ]


async def options(
    db: Database,
    *,
    actor: Actor,
    lead_id: str,
    waba_id: str,
    zone: tzinfo,
    family: str | None = None,
    params: Sequence[str] | None = None,
) -> Options:
    """The lead's composer: ``family`` chosen (else the first one offered), with ``params``
    as the agent typed them, else pre-filled (a value the data lacks is empty)."""
    async with db.reading() as session:
        row = await load_visible(session, actor, lead_id)
        (lead,) = await open_leads(db.vault, [row])
        offered = await _families(session, waba_id, lead.language)
        chosen = next((each for each in offered if each.family == family), None)
        chosen = chosen or (offered[0] if offered else None)
        draft = None
        if chosen is not None:
            draft = await _draft(session, waba_id, lead, chosen, params, zone)
        files = await _file_choices(session, row.property_id)
    closes_at = lead.last_inbound_at + rules.SERVICE_WINDOW if lead.last_inbound_at else None
    return Options(
        window_open=rules.window_open(lead.last_inbound_at, utcnow()),
        window_closes_at=closes_at,
        opted_out=lead.opted_out_at is not None,
        families=offered,
        draft=draft,
        files=files,
    )


async def preview(
    db: Database,
    *,
    actor: Actor,
    lead_id: str,
    waba_id: str,
    zone: tzinfo,
    family: str,
    params: Sequence[str],
) -> str:
    """The exact text the lead would read; the send's own errors when it could not go
    (TemplateNotApproved, InvalidTemplateParameter, LeadOptedOut ...)."""
    request = queue.OutboundRequest(template=family, params=list(params))
    async with db.session() as session:
        row = await load_visible(session, actor, lead_id)
        (lead,) = await open_leads(db.vault, [row])
        prepared = await queue.prepare_for_lead(
            session, lead=lead, waba_id=waba_id, zone=zone, request=request
        )
    rules.check_category(
        prepared.category, lead.opted_out_at, prepared.name, basis=lead.marketing_basis
    )
    return prepared.rendered


async def send(
    db: Database,
    *,
    actor: Actor,
    lead_id: str,
    request: queue.OutboundRequest,
    waba_id: str,
    zone: tzinfo,
    idempotency_key: str,
    quiet: QuietHours | None = None,
) -> queue.QueuedMessage:
    """Queue the send once per key: a form posted twice (a double click) queues one message.
    With ``quiet``, marketing due in a quiet time waits for its end.

    Two posts at the same moment both find no message of their key; the later one's insert
    then breaks the key's uniqueness, and asking again finds the message the other queued.
    """

    async def once() -> queue.QueuedMessage:
        return await queue.send_message(
            db,
            actor=actor,
            lead_id=lead_id,
            request=request,
            waba_id=waba_id,
            zone=zone,
            idempotency_key=idempotency_key,
            quiet=quiet,
        )

    try:
        return await once()
    except IntegrityError:
        return await once()


async def _families(session: AsyncSession, waba_id: str, language: str) -> list[Family]:
    query = (
        select(MessageTemplate)
        .where(MessageTemplate.waba_id == waba_id, MessageTemplate.status == APPROVED)
        .order_by(MessageTemplate.family, MessageTemplate.language)
    )
    by_family: dict[str, list[MessageTemplate]] = {}
    for row in await session.scalars(query):
        by_family.setdefault(row.family, []).append(row)
    return [_in_language(rows, language) for rows in by_family.values()]


def _base(language: str) -> str:
    return language.lower().replace("-", "_").split("_")[0]


def _in_language(rows: list[MessageTemplate], language: str) -> Family:
    """The family's row in the lead's language, else Hebrew, else English, else any."""
    order = [_base(language), *FALLBACK_ORDER]

    def rank(row: MessageTemplate) -> tuple[int, bool, str]:
        base = _base(row.language)
        return (
            order.index(base) if base in order else len(order),
            row.language != language,
            row.name,
        )

    best = min(rows, key=rank)
    return Family(best.family, best.name, best.language, best.category.upper())


async def _draft(
    session: AsyncSession,
    waba_id: str,
    lead: LeadRecord,
    chosen: Family,
    params: Sequence[str] | None,
    zone: tzinfo,
) -> Draft:
    row = await templates.choose(
        session, waba_id=waba_id, template=chosen.name, language=chosen.language
    )
    names = templates.placeholders(row.components)
    if params is None:
        params = await _prefilled(session, lead, chosen.family, len(names), zone)
    values = [*params, *[""] * len(names)][: len(names)]
    return Draft(chosen, names, values)


async def _prefilled(
    session: AsyncSession, lead: LeadRecord, family: str, count: int, zone: tzinfo
) -> list[str]:
    """The seed family's parameters from the data, each the data lacks left empty for the
    agent (``queue.default_params`` refuses the whole list then: automation must not send
    half a template)."""
    values = await queue.default_values(session, lead=lead, family=family, zone=zone)
    known = templates.known_params(templates.family_of(family), values)
    return known if known is not None else [""] * count
