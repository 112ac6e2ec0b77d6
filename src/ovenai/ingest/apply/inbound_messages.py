"""Inbound messages into conversations: every type kept with its meaning.

The message row carries a plain-text rendering (``text``, for the inbox) and the full
structured meaning (``payload``: content, reply context, ad referral, Meta's errors), both
sealed under the lead's key. A reply's ``context.id`` (or a reaction's target) links the
message it answers. ``system`` messages also change the lead's identifiers (new number or BSUID;
Meta: "messages webhook › system messages"), which is where replies go next.
"""

from __future__ import annotations

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai.columns import new_id
from ovenai.events import InboundMessage
from ovenai.events.content import ReactionContent, SystemContent
from ovenai.events.enums import SystemChangeType
from ovenai.ingest.apply.senders import FirstContact, change_bsuid, change_number, lead_for_sender
from ovenai.keystore import Vault
from ovenai.models import Direction, Lead, Message, MessageStatus
from ovenai.sealing import MESSAGES

_NUMBER_CHANGES = (SystemChangeType.USER_CHANGED_NUMBER, SystemChangeType.CUSTOMER_CHANGED_NUMBER)
_USER_ID_CHANGES = (
    SystemChangeType.USER_CHANGED_USER_ID,
    SystemChangeType.CUSTOMER_IDENTITY_CHANGED,
)
# A number change may carry the user's new BSUID too (``user_id``), as a BSUID change does.
_BSUID_CHANGES = _NUMBER_CHANGES + _USER_ID_CHANGES


async def apply_inbound(
    session: AsyncSession, vault: Vault, event: InboundMessage
) -> tuple[Lead, Message]:
    """Store one inbound message in its sender's conversation; update the lead."""
    first = FirstContact(at=event.timestamp, text=event.text, referral=event.referral)
    lead = await lead_for_sender(session, vault, event.sender, first)
    if isinstance(event.content, SystemContent):
        await _apply_identity_change(session, vault, lead, event.content)
    if lead.last_inbound_at is None or event.timestamp > lead.last_inbound_at:
        lead.last_inbound_at = event.timestamp  # opens (or extends) the 24-hour window
    message = await _message(vault, lead.id, event)
    session.add(message)
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
