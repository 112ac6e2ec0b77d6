"""The typed events a webhook body flattens into (one per message, status, preference...).

Every event carries ``dedupe_key``: a stable string, equal across Meta's retries and
duplicate deliveries, for a unique constraint (the parser builds it:
:mod:`ovenai.ingest.parse.dedupe_keys`). Events are tagged msgspec Structs, so a list of
them encodes to JSON and decodes back as ``list[WebhookEvent]``.

This package sits at the bottom of the import graph: ingestion builds and applies these
events, and the modules that react to them (:mod:`ovenai.hooks`, the template registry)
read them without depending on ingestion. Sub-modules: ``enums`` (Meta's enumerated
values), ``content`` (what an inbound message says).
"""

from __future__ import annotations

from datetime import datetime

from msgspec import Struct

from ovenai.events.content import MessageContent
from ovenai.events.enums import (
    DeliveryStatus,
    MarketingPreference,
    MessageType,
    QualityScore,
    TemplateEvent,
)


class _Event(Struct, frozen=True, kw_only=True, tag_field="kind"):
    """Base of all events: the dedupe key and the WABA (``entry[].id``) it came through."""

    dedupe_key: str
    waba_id: str


class UserIdentity(Struct, frozen=True, kw_only=True):
    """Who a user is: BSUID first; ``wa_id`` may be absent for username users."""

    wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    username: str | None = None
    profile_name: str | None = None


class ErrorDetail(Struct, frozen=True, kw_only=True):
    """One of Meta's ``errors[]`` items, kept for the agent to read."""

    code: int | None = None
    title: str | None = None
    message: str | None = None
    details: str | None = None
    href: str | None = None


class MessageContext(Struct, frozen=True, kw_only=True):
    """What a message replies to or how it was forwarded."""

    from_number: str | None = None
    quoted_message_id: str | None = None
    forwarded: bool = False
    frequently_forwarded: bool = False
    referred_product_catalog_id: str | None = None
    referred_product_retailer_id: str | None = None


class AdReferral(Struct, frozen=True, kw_only=True):
    """The click-to-WhatsApp ad or post the lead came from."""

    source_url: str | None = None
    source_id: str | None = None
    source_type: str | None = None
    headline: str | None = None
    body: str | None = None
    media_type: str | None = None
    image_url: str | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    ctwa_clid: str | None = None
    welcome_message_text: str | None = None


class InboundMessage(_Event, frozen=True, kw_only=True, tag="inbound_message"):
    """A message a user sent to one of our business numbers."""

    phone_number_id: str
    display_phone_number: str
    message_id: str
    timestamp: datetime
    type: MessageType
    type_raw: str
    sender: UserIdentity
    text: str
    content: MessageContent
    context: MessageContext | None = None
    referral: AdReferral | None = None
    errors: tuple[ErrorDetail, ...] = ()


class ConversationInfo(Struct, frozen=True, kw_only=True):
    """``statuses[].conversation`` (≤ v23 and free entry points only; do not build on it)."""

    id: str | None = None
    origin_type: str | None = None
    expires_at: datetime | None = None


class PricingInfo(Struct, frozen=True, kw_only=True):
    """``statuses[].pricing``; values kept as Meta's strings."""

    billable: bool | None = None
    pricing_model: str | None = None
    type: str | None = None
    category: str | None = None


class StatusUpdate(_Event, frozen=True, kw_only=True, tag="status_update"):
    """A delivery status of one of our outbound messages; apply by rank, never downgrade."""

    phone_number_id: str
    display_phone_number: str
    message_id: str
    status: DeliveryStatus
    status_raw: str
    timestamp: datetime
    recipient_id: str | None = None
    recipient_user_id: str | None = None
    recipient_parent_user_id: str | None = None
    recipient_type: str | None = None
    recipient_participant_id: str | None = None
    biz_opaque_callback_data: str | None = None
    conversation: ConversationInfo | None = None
    pricing: PricingInfo | None = None
    errors: tuple[ErrorDetail, ...] = ()


class UserPreference(_Event, frozen=True, kw_only=True, tag="user_preference"):
    """A user stopped or resumed marketing messages from us."""

    phone_number_id: str
    display_phone_number: str
    user: UserIdentity
    category: str
    value: MarketingPreference
    value_raw: str
    timestamp: datetime
    detail: str | None = None


class TemplateStatusUpdate(_Event, frozen=True, kw_only=True, tag="template_status_update"):
    """A template was approved, rejected, paused..."""

    time: datetime | None
    event: TemplateEvent
    event_raw: str
    template_id: str
    name: str | None = None
    language: str | None = None
    reason: str | None = None
    category: str | None = None
    rejection_reason: str | None = None
    rejection_recommendation: str | None = None
    disable_date: str | None = None
    other_info_title: str | None = None
    other_info_description: str | None = None


class TemplateQualityUpdate(_Event, frozen=True, kw_only=True, tag="template_quality_update"):
    """A template's quality score changed."""

    time: datetime | None
    template_id: str
    previous_score: QualityScore
    previous_score_raw: str | None
    new_score: QualityScore
    new_score_raw: str | None
    name: str | None = None
    language: str | None = None


class TemplateCategoryUpdate(_Event, frozen=True, kw_only=True, tag="template_category_update"):
    """Meta re-categorised a template (we pay the category at send time)."""

    time: datetime | None
    template_id: str
    new_category: str | None = None
    previous_category: str | None = None
    name: str | None = None
    language: str | None = None


class AccountEvent(_Event, frozen=True, kw_only=True, tag="account_event"):
    """Any other account-level field (account_update, phone_number_quality_update...), raw."""

    time: datetime | None
    field: str
    event: str | None
    value_json: str


class PlatformErrorReport(_Event, frozen=True, kw_only=True, tag="platform_error"):
    """An out-of-band error in ``value.errors[]``, not tied to one message."""

    phone_number_id: str
    error: ErrorDetail


class IgnoredChange(_Event, frozen=True, kw_only=True, tag="ignored_change"):
    """A change we do not handle (unknown ``object`` or ``field``); acknowledge and move on."""

    object: str
    field: str | None


class UnreadableItem(_Event, frozen=True, kw_only=True, tag="unreadable_item"):
    """A message, status or change whose shape we could not read; kept raw for a human.

    ``item`` names what failed (entry, change, message, status, user_preference, error);
    ``path`` where in the body, as ``$.entry[0].changes[1].value.messages[2]``.
    """

    field: str
    item: str
    raw_json: str
    problem: str
    path: str = "$"


WebhookEvent = (
    InboundMessage
    | StatusUpdate
    | UserPreference
    | TemplateStatusUpdate
    | TemplateQualityUpdate
    | TemplateCategoryUpdate
    | AccountEvent
    | PlatformErrorReport
    | IgnoredChange
    | UnreadableItem
)
