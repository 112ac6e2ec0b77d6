"""Inbound user messages (Webhooks › Reference › messages) flattened into InboundMessage events."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
from msgspec import Raw

from ovenai.events import AdReferral, InboundMessage, MessageContext, UnreadableItem
from ovenai.events.content import MessageContent, UnsupportedContent
from ovenai.events.enums import MessageType
from ovenai.ingest.parse import change_structs as wire
from ovenai.ingest.parse import message_structs as w
from ovenai.ingest.parse.change_source import (
    ITEM_ERRORS,
    ChangeSource,
    error_detail,
    raw_text,
    unreadable,
    utc_from_unix,
)
from ovenai.ingest.parse.content_parser import build_content
from ovenai.ingest.parse.dedupe_keys import message_key
from ovenai.ingest.parse.lenient_json import read
from ovenai.ingest.parse.sender_identity import ContactBook


def message_events(
    source: ChangeSource, metadata: wire.Metadata, book: ContactBook, messages: list[Raw]
) -> Iterator[InboundMessage | UnreadableItem]:
    """Yield one event per ``messages[]`` item, in order."""
    for index, raw in enumerate(messages):
        yield _message_event(source, metadata, book, raw, index)


def _message_event(
    source: ChangeSource, metadata: wire.Metadata, book: ContactBook, raw: Raw, index: int
) -> InboundMessage | UnreadableItem:
    """Read one message fully, else as unsupported from its core fields, else as unreadable."""
    try:
        message = read(raw, w.Message)
        return _inbound(source, metadata, book, message, _content(message, raw))
    except ITEM_ERRORS as problem:
        try:
            core = read(raw, w.MessageCore)
            message = w.Message(**msgspec.structs.asdict(core))
            content = _unsupported(message, raw, problem=str(problem))
            return _inbound(source, metadata, book, message, content)
        except ITEM_ERRORS:
            path = source.item_path("messages", index)
            return unreadable(source, "message", raw, str(problem), path)


def _inbound(
    source: ChangeSource,
    metadata: wire.Metadata,
    book: ContactBook,
    message: w.Message,
    content: MessageContent,
) -> InboundMessage:
    """Assemble the event for one readable message."""
    return InboundMessage(
        dedupe_key=message_key(message.id),
        waba_id=source.waba_id,
        phone_number_id=metadata.phone_number_id,
        display_phone_number=metadata.display_phone_number,
        message_id=message.id,
        timestamp=utc_from_unix(message.timestamp),
        type=MessageType.parse(message.type),
        type_raw=message.type,
        sender=book.identify(message.from_, message.from_user_id),
        text=content.summary(),
        content=content,
        context=_context(message.context),
        referral=_referral(message.referral),
        errors=tuple(error_detail(error) for error in message.errors or ()),
    )


def _content(message: w.Message, raw: Raw) -> MessageContent:
    """Return the typed content, or unsupported content when the type has no usable object."""
    content = build_content(message, MessageType.parse(message.type))
    if content is not None:
        return content
    return _unsupported(message, raw, problem=None)


def _unsupported(message: w.Message, raw: Raw, *, problem: str | None) -> UnsupportedContent:
    """Keep a message we cannot render: its raw type, Meta's subtype and the raw JSON."""
    subtype = None if message.unsupported is None else message.unsupported.type
    return UnsupportedContent(
        raw_type=message.type, subtype=subtype, raw_json=raw_text(raw), problem=problem
    )


def _context(context: w.Context | None) -> MessageContext | None:
    """Convert ``context`` (reply, forward, product enquiry)."""
    if context is None:
        return None
    product = context.referred_product
    return MessageContext(
        from_number=context.from_,
        quoted_message_id=context.id,
        forwarded=context.forwarded,
        frequently_forwarded=context.frequently_forwarded,
        referred_product_catalog_id=None if product is None else product.catalog_id,
        referred_product_retailer_id=None if product is None else product.product_retailer_id,
    )


def _referral(referral: w.Referral | None) -> AdReferral | None:
    """Convert ``referral`` (click-to-WhatsApp ad attribution)."""
    if referral is None:
        return None
    welcome = referral.welcome_message
    return AdReferral(
        source_url=referral.source_url,
        source_id=referral.source_id,
        source_type=referral.source_type,
        headline=referral.headline,
        body=referral.body,
        media_type=referral.media_type,
        image_url=referral.image_url,
        video_url=referral.video_url,
        thumbnail_url=referral.thumbnail_url,
        ctwa_clid=referral.ctwa_clid,
        welcome_message_text=None if welcome is None else welcome.text,
    )
