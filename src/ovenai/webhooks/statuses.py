"""Delivery statuses of our outbound messages (cloud-api.md §3) and their ranking (§3.1)."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
from msgspec import Raw

from ovenai.webhooks import wire
from ovenai.webhooks.common import (
    ITEM_ERRORS,
    ChangeSource,
    error_detail,
    unreadable,
    utc_from_unix,
)
from ovenai.webhooks.enums import DeliveryStatus
from ovenai.webhooks.events import ConversationInfo, PricingInfo, StatusUpdate, UnreadableItem
from ovenai.webhooks.keys import status_key

# §3.1 ranks times ten, so that ``failed`` fits between ``sent`` and ``delivered``: it
# overrides sent, never a delivery, and a later delivered/read overrides it. Rank 0
# (unknown, On-Premises deleted/warning; also our local "queued") is never applied.
_RANKS = {
    DeliveryStatus.SENT: 10,
    DeliveryStatus.FAILED: 15,
    DeliveryStatus.DELIVERED: 20,
    DeliveryStatus.READ: 30,
    DeliveryStatus.PLAYED: 40,
}
QUEUED_RANK = 0


def status_rank(status: DeliveryStatus | str) -> int:
    """Return the §3.1 rank of a status: apply a new status only if its rank is higher."""
    return _RANKS.get(DeliveryStatus.parse(status), QUEUED_RANK)


def supersedes(new: DeliveryStatus | str, current: DeliveryStatus | str | None) -> bool:
    """Tell whether ``new`` moves a message forward from ``current`` (None = only queued)."""
    current_rank = QUEUED_RANK if current is None else status_rank(current)
    return status_rank(new) > current_rank


def status_events(
    source: ChangeSource, metadata: wire.Metadata, statuses: list[Raw]
) -> Iterator[StatusUpdate | UnreadableItem]:
    """Yield one event per ``statuses[]`` item, in order."""
    for raw in statuses:
        yield _status_event(source, metadata, raw)


def _status_event(
    source: ChangeSource, metadata: wire.Metadata, raw: Raw
) -> StatusUpdate | UnreadableItem:
    """Read one status fully, else just its core fields, else keep it as unreadable."""
    try:
        return _status_update(source, metadata, msgspec.json.decode(raw, type=wire.Status))
    except ITEM_ERRORS as full_problem:
        try:
            core = msgspec.json.decode(raw, type=wire.StatusCore)
            return _status_update(source, metadata, wire.Status(**msgspec.structs.asdict(core)))
        except ITEM_ERRORS:
            return unreadable(source, "status", raw, str(full_problem))


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
        errors=tuple(error_detail(error) for error in status.errors),
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
