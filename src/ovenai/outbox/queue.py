"""Queueing sends: every send becomes a ``queued`` message row in the caller's transaction.

The API, the dashboard and automation all call :func:`enqueue_text` or
:func:`enqueue_template` inside the transaction of the action that caused the send, so the
send exists exactly when the action does; workers (:mod:`ovenai.outbox.dispatcher`) take it
from there. :func:`send_message` is the service the REST API uses (it owns its transaction).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import property_files, templates, wakeups
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.conversations import held_by_quiet
from ovenai.db import Database
from ovenai.errors import Conflict, InvalidInput
from ovenai.keystore import Vault
from ovenai.leads import LeadRecord, load_visible, lock_unerased, open_leads
from ovenai.models import (
    Direction,
    Language,
    Lead,
    Meeting,
    MeetingStatus,
    Message,
    MessageStatus,
    Property,
    PropertyFile,
    PropertyFileRole,
)
from ovenai.outbox import rules
from ovenai.quiet_hours import Hold, QuietHours
from ovenai.sealing import MESSAGES, MessageColumn

Param = Annotated[str, StringConstraints(max_length=1024)]
SUPPORTED_LANGUAGES = tuple(language.value for language in Language)
"""The languages a send may ask for (the templates OvenAI keeps are in these)."""


class OutboundRequest(BaseModel):
    """A send asked for: a template (with optional parameters), free text, or a listing's
    file (``file_id``, see :mod:`ovenai.property_files`) with an optional caption."""

    model_config = ConfigDict(extra="forbid")

    template: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None
    params: Annotated[list[Param], Field(max_length=20)] | dict[str, Param] | None = None
    header_params: Annotated[list[Param], Field(max_length=5)] | None = None
    language: Annotated[str, StringConstraints(min_length=2, max_length=16)] | None = None
    text: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    preview_url: bool = False
    file_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    # A template with an image or document header: the listing file it carries (default:
    # the lead's listing's first photo, or its brochure).
    header_file_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    caption: Annotated[str, StringConstraints(max_length=1024)] | None = None
    send_at: datetime | None = None  # without an offset: the agency's time zone

    @field_validator("language")
    @classmethod
    def _supported_language(cls, value: str | None) -> str | None:
        """Hebrew or English (a regional code such as ``en_US`` too): nothing else is sent."""
        if value is not None and templates.base_language(value) not in SUPPORTED_LANGUAGES:
            supported = ", ".join(SUPPORTED_LANGUAGES)
            raise ValueError(f"{value!r} is not a supported language; use one of {supported}")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> OutboundRequest:
        if sum(kind is not None for kind in (self.template, self.text, self.file_id)) != 1:
            raise ValueError("give one of template, text or file_id")
        if self.template is None and (
            self.params or self.header_params or self.language or self.header_file_id
        ):
            raise ValueError(
                "params, header_params, header_file_id and language belong to template sends"
            )
        if self.caption is not None and self.file_id is None:
            raise ValueError("a caption goes with a file_id")
        return self


@dataclass(frozen=True)
class QueuedMessage:
    """A send accepted into the outbox."""

    id: str
    lead_id: str
    status: str
    send_after: datetime | None
    held: Hold | None = None  # a marketing message waiting out a quiet time (ovenai.quiet_hours)


def _new_outbound(lead_id: str, kind: str, send_at: datetime | None, **fields: Any) -> Message:
    now = utcnow()
    due = max(now, send_at) if send_at else now
    return Message(
        id=new_id(),
        lead_id=lead_id,
        direction=Direction.OUTBOUND,
        type=kind,
        status=MessageStatus.QUEUED,
        status_at=now,
        created_at=now,
        updated_at=now,
        send_after=send_at,
        next_attempt_at=due,
        attempts=0,
        **fields,
    )


async def enqueue_text(
    session: AsyncSession,
    vault: Vault,
    *,
    lead: LeadRecord,
    text: str,
    preview_url: bool = False,
    sent_by_id: str | None = None,
    send_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> Message:
    """Queue free text to a lead (window checked now and again before it leaves)."""
    rules.check_free_text(lead.last_inbound_at, send_at or utcnow())
    rules.recipient_of(bsuid=lead.bsuid, wa_id=lead.wa_id, phone=lead.phone)
    message = _new_outbound(
        lead.id, "text", send_at, sent_by_id=sent_by_id, idempotency_key=idempotency_key
    )
    payload = json.dumps({"preview_url": preview_url})
    await lock_unerased(session, lead.id)  # erased meanwhile, maybe by another process
    key = await vault.key("lead", lead.id)
    MESSAGES.seal_into(message, key, {"text": text, "payload": payload})
    session.add(message)
    await wakeups.announce(session)
    return message


async def enqueue_buttons(
    session: AsyncSession,
    vault: Vault,
    *,
    lead: LeadRecord,
    text: str,
    buttons: Sequence[tuple[str, str]],
    idempotency_key: str | None = None,
) -> Message:
    """Queue text with reply buttons ((id, title) pairs, 1 to 3; a title at most 20
    characters) to a lead; like free text it may go only while the window is open."""
    if not 1 <= len(buttons) <= 3 or any(len(title) > 20 for _, title in buttons):
        raise InvalidInput("reply buttons: 1 to 3, each title at most 20 characters")
    rules.check_free_text(lead.last_inbound_at, utcnow())
    rules.recipient_of(bsuid=lead.bsuid, wa_id=lead.wa_id, phone=lead.phone)
    message = _new_outbound(lead.id, "interactive", None, idempotency_key=idempotency_key)
    payload = json.dumps({"buttons": [list(button) for button in buttons]}, ensure_ascii=False)
    await lock_unerased(session, lead.id)  # erased meanwhile, maybe by another process
    key = await vault.key("lead", lead.id)
    MESSAGES.seal_into(message, key, {"text": text, "payload": payload})
    session.add(message)
    await wakeups.announce(session)
    return message


async def enqueue_file(
    session: AsyncSession,
    vault: Vault,
    *,
    lead: LeadRecord,
    file_id: str,
    caption: str | None = None,
    sent_by_id: str | None = None,
    send_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> Message:
    """Queue a listing's photo or brochure (:mod:`ovenai.property_files`) to a lead, with an
    optional caption; like free text it may go only while the window is open. The worker
    uploads the file to Meta on its first send and reuses the upload after."""
    row = await session.get(PropertyFile, file_id)
    if row is None:
        raise InvalidInput(f"no listing file {file_id}", field="file_id")
    rules.check_free_text(lead.last_inbound_at, send_at or utcnow())
    rules.recipient_of(bsuid=lead.bsuid, wa_id=lead.wa_id, phone=lead.phone)
    kind = property_files.MESSAGE_KIND[PropertyFileRole(row.role)]
    message = _new_outbound(
        lead.id, kind, send_at, sent_by_id=sent_by_id, idempotency_key=idempotency_key
    )
    payload = json.dumps({"file_id": row.id, "filename": row.filename}, ensure_ascii=False)
    await lock_unerased(session, lead.id)  # erased meanwhile, maybe by another process
    key = await vault.key("lead", lead.id)
    sealed: dict[MessageColumn, str | None] = {"payload": payload}
    if caption:
        sealed["text"] = caption
    MESSAGES.seal_into(message, key, sealed)
    session.add(message)
    await wakeups.announce(session)
    return message


async def enqueue_template(
    session: AsyncSession,
    vault: Vault,
    *,
    lead: LeadRecord,
    prepared: templates.PreparedTemplate,
    sent_by_id: str | None = None,
    send_at: datetime | None = None,
    idempotency_key: str | None = None,
    quiet: QuietHours | None = None,
    quick_replies: Sequence[str] = (),
) -> Message:
    """Queue a checked template send (see :func:`ovenai.templates.prepare_send`).

    ``quick_replies`` are the payloads of the template's quick-reply buttons, in their order
    (what a tap on each sends back: automation's ``viewing_confirm:<meeting id>`` ...).

    A marketing template due in a quiet time (``quiet``, :mod:`ovenai.quiet_hours`) is due
    when that ends, at its place in the spread window; without ``quiet`` the worker holds it
    when it claims it, as it holds everything it claims in a quiet time.
    """
    rules.check_category(
        prepared.category, lead.opted_out_at, prepared.name, basis=lead.marketing_basis
    )
    rules.recipient_of(bsuid=lead.bsuid, wa_id=lead.wa_id, phone=lead.phone)
    message = _new_outbound(
        lead.id,
        "template",
        send_at,
        template_name=prepared.name,
        template_language=prepared.language,
        category=prepared.category.upper(),
        sent_by_id=sent_by_id,
        idempotency_key=idempotency_key,
    )
    if quiet is not None and prepared.category.upper() == rules.MARKETING:
        release = quiet.release_at(message.id, message.next_attempt_at or utcnow())
        if release is not None:
            # Not before then, like a scheduled send: it holds up no later message to the lead.
            message.next_attempt_at = message.send_after = release.until
    payload = json.dumps(
        {
            "header_params": list(prepared.header_params),
            "header_file": prepared.header_file,
            "quick_replies": list(quick_replies),
        },
        ensure_ascii=False,
    )
    params = json.dumps(prepared.body_params)
    await lock_unerased(session, lead.id)  # erased meanwhile, maybe by another process
    key = await vault.key("lead", lead.id)
    MESSAGES.seal_into(
        message, key, {"text": prepared.rendered, "template_params": params, "payload": payload}
    )
    session.add(message)
    await wakeups.announce(session)
    return message


async def prepare_for_lead(
    session: AsyncSession,
    *,
    lead: LeadRecord,
    waba_id: str,
    zone: tzinfo,
    request: OutboundRequest,
) -> templates.PreparedTemplate:
    """Check a template send for this lead: language, approval, parameters (filled if absent)."""
    assert request.template is not None
    params: Sequence[str] | dict[str, str] | None = request.params
    if params is None:
        params = await default_params(session, lead=lead, family=request.template, zone=zone)
    prepared = await templates.prepare_send(
        session,
        waba_id=waba_id,
        template=request.template,
        language=rules.template_language(request.language, lead.language),
        params=params,
        header_params=request.header_params,
        fallback=True,
    )
    return await with_header_file(
        session, prepared, property_id=lead.property_id, file_id=request.header_file_id
    )


async def with_header_file(
    session: AsyncSession,
    prepared: templates.PreparedTemplate,
    *,
    property_id: str | None,
    file_id: str | None = None,
) -> templates.PreparedTemplate:
    """A template with an image or document header gets the listing file it carries
    (:func:`ovenai.property_files.header_file`); InvalidTemplateParameter when there is none.
    Any other template is returned as it is."""
    if prepared.header_media is None:
        if file_id is not None:
            problem = "has no image or document header to carry a file"
            raise templates.InvalidTemplateParameter(
                prepared.name, "header", problem, field="header_file_id"
            )
        return prepared
    found = await property_files.header_file(
        session, prepared.header_media, file_id=file_id, property_id=property_id
    )
    if found is None:
        role = property_files.ROLE_OF_KIND[prepared.header_media].value
        problem = f"needs a {role} of the listing (add one on the listing's page)"
        raise templates.InvalidTemplateParameter(
            prepared.name, "header", problem, field="header_file_id"
        )
    return replace(prepared, header_file=found)


async def default_params(
    session: AsyncSession,
    *,
    lead: LeadRecord,
    family: str,
    zone: tzinfo,
    meeting: Meeting | None = None,
) -> list[str]:
    """A seed family's parameters from the lead, their property and ``meeting`` (else their
    next viewing); InvalidInput names a value the data lacks (see :func:`default_values`)."""
    values = await default_values(session, lead=lead, family=family, zone=zone, meeting=meeting)
    return templates.fill_params(templates.family_of(family), **values)


async def default_values(
    session: AsyncSession,
    *,
    lead: LeadRecord,
    family: str,
    zone: tzinfo,
    meeting: Meeting | None = None,
) -> dict[str, str | None]:
    """What the seed families' parameters are filled from: the lead, their property and
    ``meeting`` (else their next viewing). The reminder says "tomorrow at {{2}}"
    (``meeting_reminder_*``), so its time is the time alone, as people write it ("18:30");
    the others get the day too ("08/12 18:30")."""
    listing = await session.get(Property, lead.property_id) if lead.property_id else None
    seed_family = templates.family_of(family)
    if meeting is None and templates.uses(seed_family, "meeting_time"):
        meeting = await _next_meeting(session, lead.id)
    shape = "%H:%M" if seed_family == "meeting_reminder" else "%d/%m %H:%M"
    return {
        "lead_name": lead.name or lead.profile_name,
        "property_city": listing.city if listing else lead.want_city,
        "property_area": (listing.area if listing else None) or lead.want_area,
        "rooms": _number(listing.rooms if listing else None),
        "size_m2": _number(listing.size_m2 if listing else None),
        "price": f"₪{listing.price:,}" if listing and listing.price is not None else None,
        "meeting_time": meeting.starts_at.astimezone(zone).strftime(shape) if meeting else None,
        "documents": None,
    }


def _number(value: Decimal | int | None) -> str | None:
    if value is None:
        return None
    return format(Decimal(value).normalize(), "f")


async def _next_meeting(session: AsyncSession, lead_id: str) -> Meeting | None:
    query = (
        select(Meeting)
        .where(
            Meeting.lead_id == lead_id,
            Meeting.starts_at >= utcnow(),
            Meeting.status.in_([MeetingStatus.PROPOSED, MeetingStatus.CONFIRMED]),
        )
        .order_by(Meeting.starts_at)
        .limit(1)
    )
    return await session.scalar(query)


def request_digest(request: OutboundRequest) -> str:
    """SHA-256 of a send request as parsed (keys sorted, defaults filled): the same send
    written differently (spacing, key order) has the same digest."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def existing_send(
    session: AsyncSession, key: str | None, lead_id: str, digest: str
) -> Message | None:
    """The message an Idempotency-Key already queued; 409 for another lead's, 422 when it came
    with another body (draft-ietf-httpapi-idempotency-key-header: a key is for one request)."""
    if key is None:
        return None
    found = await session.scalar(select(Message).where(Message.idempotency_key == key))
    if found is not None and found.lead_id != lead_id:
        raise Conflict("this Idempotency-Key was already used for another lead")
    if found is not None and found.idempotency_body not in (None, digest):
        raise InvalidInput(
            "this Idempotency-Key was already used with a different body; "
            "use a new key for a new request",
            field="Idempotency-Key",
        )
    return found


async def send_message(
    db: Database,
    *,
    actor: Actor,
    lead_id: str,
    request: OutboundRequest,
    waba_id: str,
    zone: tzinfo,
    idempotency_key: str | None = None,
    quiet: QuietHours | None = None,
) -> QueuedMessage:
    """Queue a send to a lead the actor may see; answers at once (the worker sends).

    With ``quiet``, marketing due in a quiet time waits for its end (``held`` says so).
    A ``send_at`` without an offset is read in ``zone``. The same Idempotency-Key with the
    same request answers the first send again; with another request it is refused (422)."""
    if request.send_at is not None and request.send_at.tzinfo is None:
        request = request.model_copy(update={"send_at": request.send_at.replace(tzinfo=zone)})
    digest = request_digest(request)
    async with db.session() as session:
        row = await load_visible(session, actor, lead_id)
        existing = await existing_send(session, idempotency_key, lead_id, digest)
        if existing is None:
            existing = await _enqueue(
                session, db.vault, row, actor, request, waba_id, zone, idempotency_key, quiet
            )
            if idempotency_key is not None:
                existing.idempotency_body = digest
            await session.commit()
    held = held_by_quiet(existing, quiet)
    return QueuedMessage(existing.id, existing.lead_id, existing.status, existing.send_after, held)


async def _enqueue(
    session: AsyncSession,
    vault: Vault,
    row: Lead,
    actor: Actor,
    request: OutboundRequest,
    waba_id: str,
    zone: tzinfo,
    key: str | None,
    quiet: QuietHours | None = None,
) -> Message:
    (lead,) = await open_leads(vault, [row])
    common: dict[str, Any] = {
        "sent_by_id": actor.user_id,
        "send_at": request.send_at,
        "idempotency_key": key,
    }
    if request.text is not None:
        return await enqueue_text(
            session, vault, lead=lead, text=request.text, preview_url=request.preview_url, **common
        )
    if request.file_id is not None:
        return await enqueue_file(
            session, vault, lead=lead, file_id=request.file_id, caption=request.caption, **common
        )
    prepared = await prepare_for_lead(
        session, lead=lead, waba_id=waba_id, zone=zone, request=request
    )
    return await enqueue_template(
        session, vault, lead=lead, prepared=prepared, quiet=quiet, **common
    )
