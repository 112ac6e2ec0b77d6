"""``statuses[]`` items: the delivery statuses of our outbound messages, read into events.

How they rank against each other is applying's business (:mod:`ovenai.ingest.apply.status_rank`).
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
from msgspec import Raw

from ovenai.events import ConversationInfo, PricingInfo, StatusUpdate, UnreadableItem
from ovenai.events.enums import DeliveryStatus
from ovenai.ingest.parse import change_structs as wire
from ovenai.ingest.parse.change_source import (
    ITEM_ERRORS,
    ChangeSource,
    error_detail,
    unreadable,
    utc_from_unix,
)
from ovenai.ingest.parse.dedupe_keys import status_key
from ovenai.ingest.parse.lenient_json import read


def status_events(
    source: ChangeSource, metadata: wire.Metadata, statuses: list[Raw]
) -> Iterator[StatusUpdate | UnreadableItem]:
    """Yield one event per ``statuses[]`` item, in order."""
    for index, raw in enumerate(statuses):
        yield _status_event(source, metadata, raw, index)


def _status_event(
    source: ChangeSource, metadata: wire.Metadata, raw: Raw, index: int
) -> StatusUpdate | UnreadableItem:
    """Read one status fully, else just its core fields, else keep it as unreadable."""
    try:
        return _status_update(source, metadata, read(raw, wire.Status))
    except ITEM_ERRORS as full_problem:
        try:
            core = read(raw, wire.StatusCore)
            return _status_update(source, metadata, wire.Status(**msgspec.structs.asdict(core)))
        except ITEM_ERRORS:
            path = source.item_path("statuses", index)
            return unreadable(source, "status", raw, str(full_problem), path)


def _status_update(
    source: ChangeSource, metadata: wire.Metadata, status: wire.Status
) -> StatusUpdate:
    """Convert one wire status into its event."""
    return StatusUpdate(
        dedupe_key=status_key(status.id, status.status),
        waba_id=source.waba_id,
        phone_number_id=metadata.phone_number_id,
        display_phone_number=metadata.display_phone_number,
        message_id=status.id,
        status=DeliveryStatus.parse(status.status),
        status_raw=status.status,
        timestamp=utc_from_unix(status.timestamp),
        recipient_id=status.recipient_id,
        recipient_user_id=status.recipient_user_id,
        recipient_parent_user_id=status.recipient_parent_user_id,
        recipient_type=status.recipient_type,
        recipient_participant_id=status.recipient_participant_id,
        biz_opaque_callback_data=status.biz_opaque_callback_data,
        conversation=_conversation(status.conversation),
        pricing=_pricing(status.pricing),
        errors=tuple(error_detail(error) for error in status.errors or ()),
    )


def _conversation(conversation: wire.Conversation | None) -> ConversationInfo | None:
    """Convert ``statuses[].conversation``; a bad expiry is dropped, not fatal."""
    if conversation is None:
        return None
    expiry = conversation.expiration_timestamp
    try:
        expires_at = None if expiry is None else utc_from_unix(expiry)
    except ITEM_ERRORS:
        expires_at = None
    origin = conversation.origin.get("type")
    return ConversationInfo(id=conversation.id, origin_type=origin, expires_at=expires_at)


def _pricing(pricing: wire.Pricing | None) -> PricingInfo | None:
    """Convert ``statuses[].pricing``."""
    if pricing is None:
        return None
    return PricingInfo(
        billable=pricing.billable,
        pricing_model=pricing.pricing_model,
        type=pricing.type,
        category=pricing.category,
    )
