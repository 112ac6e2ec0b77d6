"""Conversations: the messages exchanged with a lead, decrypted for the agent who may see them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ovenai import audit
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.errors import NotFound
from ovenai.leads import assigned_to, load_visible, refuse_erased
from ovenai.models import Lead, Message, MessageStatus
from ovenai.quiet_hours import CAMPAIGN_PAUSED, HELD_INDEFINITELY, Hold, QuietHours
from ovenai.sealing import MESSAGES

STATUS_TIMES = ("sent", "delivered", "read", "failed")


@dataclass(frozen=True)
class MessageError:
    """Meta's reason a message failed."""

    code: int | None
    title: str | None
    detail: str | None


@dataclass(frozen=True)
class MessageRecord:
    """One message as agents see it."""

    id: str
    lead_id: str
    direction: str
    type: str
    text: str | None
    template: str | None
    template_language: str | None
    template_params: list[object] | None
    wa_message_id: str | None
    context_wa_message_id: str | None
    status: str
    status_at: datetime
    status_history: list[tuple[str, datetime]]
    error: MessageError | None
    created_at: datetime
    # A queued marketing message waiting out a quiet time: until when, and why (none when
    # read without the quiet times, as the privacy export does).
    held: Hold | None = None


def _history(message: Message) -> list[tuple[str, datetime]]:
    """The steps in the order they happen: created, sent, delivered, read (failed last).

    Not sorted by the times themselves: Meta's are whole seconds and ours are not, so a
    message read within the second it was created would list ``created`` after ``read``."""
    stamps = [(name, getattr(message, f"{name}_at")) for name in STATUS_TIMES]
    return [("created", message.created_at), *((n, at) for n, at in stamps if at is not None)]


def held_by_quiet(message: Message, quiet: QuietHours | None) -> Hold | None:
    """Until when and why a queued marketing message waits: out a quiet time, or for its
    paused campaign to be resumed (else None)."""
    if message.status != MessageStatus.QUEUED or message.next_attempt_at is None:
        return None
    if message.next_attempt_at >= HELD_INDEFINITELY:
        return Hold(HELD_INDEFINITELY, CAMPAIGN_PAUSED)
    if quiet is None or (message.category or "") != "MARKETING":
        return None
    return quiet.explain(message.id, message.next_attempt_at)


def open_message(message: Message, key: bytes, quiet: QuietHours | None = None) -> MessageRecord:
    """Decrypt one stored message with its lead's key (``quiet``: say whether it is held)."""
    cipher = MESSAGES.cipher(key, message.id)
    params = cipher.open("template_params", message.template_params_enc)
    error = None
    if message.error_code is not None or message.error_title:
        error = MessageError(message.error_code, message.error_title, message.error_detail)
    return MessageRecord(
        id=message.id,
        lead_id=message.lead_id,
        direction=message.direction,
        type=message.type,
        text=cipher.open("text", message.text_enc),
        template=message.template_name,
        template_language=message.template_language,
        template_params=json.loads(params) if params else None,
        wa_message_id=message.wa_message_id,
        context_wa_message_id=message.context_wa_message_id,
        status=message.status,
        status_at=message.status_at,
        status_history=_history(message),
        error=error,
        created_at=message.created_at,
        held=held_by_quiet(message, quiet),
    )


async def conversation(
    db: Database, *, actor: Actor, lead_id: str, quiet: QuietHours | None = None
) -> list[MessageRecord]:
    """A lead's messages, oldest first (``quiet``: say which are held by quiet times)."""
    async with db.session() as session:
        await load_visible(session, actor, lead_id)
        query = select(Message).where(Message.lead_id == lead_id)
        rows = list(await session.scalars(query.order_by(Message.created_at, Message.id)))
        audit.record(
            session,
            actor=actor,
            action="view_conversation",
            subject_type="lead",
            subject_id=lead_id,
        )
        await session.commit()
        key = await db.vault.key("lead", lead_id)
    return [open_message(row, key, quiet) for row in rows]


async def get_message(
    db: Database, *, actor: Actor, message_id: str, quiet: QuietHours | None = None
) -> MessageRecord:
    """One message of a lead the actor may see; Gone if the lead was erased."""
    async with db.reading() as session:
        query = (
            select(Message, Lead.erased_at)
            .join(Lead, Lead.id == Message.lead_id)
            .where(Message.id == message_id, assigned_to(actor))
        )
        found = (await session.execute(query)).one_or_none()
        if found is None:
            raise NotFound(f"no message {message_id}")
        message, erased_at = found
        refuse_erased(message.lead_id, erased_at)
        key = await db.vault.key("lead", message.lead_id)
    return open_message(message, key, quiet)
