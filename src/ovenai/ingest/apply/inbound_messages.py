"""Inbound messages into conversations: every type kept with its meaning.

The message row carries a plain-text rendering (``text``, for the inbox) and the full
structured meaning (``payload``: content, reply context, ad referral, Meta's errors), both
sealed under the lead's key. A reply's ``context.id`` (or a reaction's target) links the
message it answers. ``system`` messages also change the lead's identifiers (new number or BSUID;
Meta: "messages webhook › system messages"), which is where replies go next.

Messages are applied a run at a time (:func:`apply_inbound_run`): the run's senders are
matched with one SELECT (:class:`~ovenai.ingest.apply.senders.SenderBook`), its messages
inserted with one statement, each lead's last inbound time set once (its newest). A message
that changes its sender's identity (:func:`changes_identity`) is applied alone
(:func:`apply_inbound`) between runs, at its place in the document order, so the messages
after it find the lead where it moved. The inbound hooks run after the run's writes, each with
the whole run of (lead, message) in document order, each in a savepoint (:func:`run_hooks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import msgspec
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import hooks, media
from ovenai.columns import new_id
from ovenai.events import InboundMessage
from ovenai.events.content import ReactionContent, SystemContent
from ovenai.events.enums import SystemChangeType
from ovenai.ingest.apply.senders import (
    FirstContact,
    SenderBook,
    change_bsuid,
    change_number,
    lead_for_sender,
    move_window,
)
from ovenai.keystore import Vault
from ovenai.models import Direction, Lead, Message, MessageStatus
from ovenai.sealing import MESSAGES, MessageColumn

_NUMBER_CHANGES = (SystemChangeType.USER_CHANGED_NUMBER, SystemChangeType.CUSTOMER_CHANGED_NUMBER)
_USER_ID_CHANGES = (
    SystemChangeType.USER_CHANGED_USER_ID,
    SystemChangeType.CUSTOMER_IDENTITY_CHANGED,
)
# A number change may carry the user's new BSUID too (``user_id``), as a BSUID change does.
_BSUID_CHANGES = _NUMBER_CHANGES + _USER_ID_CHANGES
_MESSAGES = cast(Table, Message.__table__)


def changes_identity(event: InboundMessage) -> bool:
    """Whether the message moves its sender to another number or BSUID (applied alone)."""
    content = event.content
    return isinstance(content, SystemContent) and content.change_type in _BSUID_CHANGES


async def apply_inbound_run(
    session: AsyncSession, vault: Vault, events: Sequence[InboundMessage]
) -> list[str]:
    """Store a run of messages (none :func:`changes_identity`) in their senders' conversations,
    in bulk; returns each message's lead id, in order. Then calls the inbound hooks."""
    if not events:
        return []
    await session.flush()  # what the items before the run left pending is read by it
    book = SenderBook(vault)
    await book.load(session, [event.sender for event in events])
    leads = []
    for event in events:
        first = FirstContact(at=event.timestamp, text=event.text, referral=event.referral)
        lead = book.lead_for(event.sender, first)
        lead.wrote_at(event.timestamp)
        leads.append(lead)
    try:
        await book.unlock()
        await book.write(session)  # the leads first: the messages refer to them
        rows = [
            _message_row(book.keys[lead.id], lead.id, e)
            for lead, e in zip(leads, events, strict=True)
        ]
        await session.execute(insert(_MESSAGES), rows)
        # The files the messages carry, fetched later by the worker (ovenai.media).
        await media.insert_inbound(
            session,
            [
                media.inbound_rows(book.keys[row["lead_id"]], row["lead_id"], row["id"], e)
                for row, e in zip(rows, events, strict=True)
            ],
        )
    except BaseException:
        book.abandon()
        raise
    await book.stored()  # the new leads' keys, stored meanwhile: before the commit
    if hooks.after_inbound:
        await run_hooks(session, [(row["lead_id"], row["id"]) for row in rows], events)
    return [lead.id for lead in leads]


def _message_row(key: bytes, lead_id: str, event: InboundMessage) -> dict[str, Any]:
    """A message's row for a Core INSERT: as :func:`_message` builds it, sealed alike."""
    message_id = new_id()
    values: dict[MessageColumn, str | None] = {"text": event.text, "payload": payload_json(event)}
    return {
        "id": message_id,
        "lead_id": lead_id,
        "direction": Direction.INBOUND,
        "type": event.type_raw[:24] or "unknown",
        "wa_message_id": event.message_id,
        "context_wa_message_id": _answers(event),
        "status": MessageStatus.RECEIVED,
        "status_at": event.timestamp,
        "attempts": 0,
        "created_at": event.timestamp,
        "updated_at": event.timestamp,
        **MESSAGES.sealed(key, message_id, values),
    }


async def run_hooks(
    session: AsyncSession, stored: Sequence[tuple[str, str]], events: Sequence[InboundMessage]
) -> None:
    """Call the inbound hooks with the run: each stored (lead id, message id) and its event,
    in order.

    The leads and messages are loaded as ORM objects with two SELECTs for the whole run (a
    lead loaded before is refreshed), and each hook takes the whole run, so a registered hook
    never costs a query per message. A hook runs after the whole run is written: it sees the
    lead as the run left it (its newest last inbound time, identifiers a later message of the
    run added) and the run's later messages in the conversation; what a hook writes is seen
    by the hooks after it and by the runs after it.
    """
    await hooks.run_after_inbound(session, await hooks.arrivals(session, stored, events))


async def apply_inbound(
    session: AsyncSession, vault: Vault, event: InboundMessage
) -> tuple[Lead, Message]:
    """Store one inbound message in its sender's conversation; update the lead.

    Only messages that change their sender's identity come here (:func:`changes_identity`):
    a stranger's one makes a lead that learns nothing from it. Its text is Meta's English
    notice ("User A changed from ..."), which says nothing of the lead's language, and it
    carries no ad referral."""
    lead = await lead_for_sender(session, vault, event.sender, FirstContact(at=event.timestamp))
    if isinstance(event.content, SystemContent):
        await _apply_identity_change(session, vault, lead, event.content)
    await move_window(session, lead, event.timestamp)
    message = await _message(vault, lead.id, event)
    session.add(message)
    await media.record_inbound(session, await vault.key("lead", lead.id), message, event)
    return lead, message


async def _message(vault: Vault, lead_id: str, event: InboundMessage) -> Message:
    message = Message(
        id=new_id(),
        lead_id=lead_id,
        direction=Direction.INBOUND,
        type=event.type_raw[:24] or "unknown",
        wa_message_id=event.message_id,
        context_wa_message_id=_answers(event),
        status=MessageStatus.RECEIVED,
        status_at=event.timestamp,
        created_at=event.timestamp,
        updated_at=event.timestamp,
    )
    key = await vault.key("lead", lead_id)
    MESSAGES.seal_into(message, key, {"text": event.text, "payload": payload_json(event)})
    return message


def _answers(event: InboundMessage) -> str | None:
    """The wamid this message replies to, taps a button of, or reacts to."""
    if event.context is not None and event.context.quoted_message_id:
        return event.context.quoted_message_id
    if isinstance(event.content, ReactionContent):
        return event.content.message_id
    return None


def payload_json(event: InboundMessage) -> str:
    """The structured meaning of a message as JSON (content tagged by its ``kind``)."""
    payload = {
        "content": event.content,
        "context": event.context,
        "referral": event.referral,
        "errors": event.errors,
        "phone_number_id": event.phone_number_id,
    }
    return msgspec.json.encode(payload).decode()


async def _apply_identity_change(
    session: AsyncSession, vault: Vault, lead: Lead, content: SystemContent
) -> None:
    """Move the lead to its new number, then to its new BSUID (Meta: system messages).

    In this order: a number change drops the old number's BSUID, and a new BSUID given
    with the change is the new number's.
    """
    if content.change_type in _NUMBER_CHANGES and content.new_wa_id:
        await change_number(session, vault, lead, content.new_wa_id)
    if content.change_type in _BSUID_CHANGES and content.new_user_id:
        await change_bsuid(session, vault, lead, content.new_user_id)
