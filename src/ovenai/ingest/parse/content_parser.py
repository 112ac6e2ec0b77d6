"""Turn the type-named object of a wire message into its content Struct."""

from __future__ import annotations

from collections.abc import Callable

from ovenai.events.content import (
    ContactsContent,
    InteractiveReplyContent,
    LocationContent,
    MediaContent,
    MessageContent,
    OrderContent,
    OrderItem,
    ReactionContent,
    SharedContact,
    SharedPhone,
    SystemContent,
    TemplateButtonContent,
    TextContent,
)
from ovenai.events.enums import InteractiveReplyType, MessageType, SystemChangeType
from ovenai.ingest.parse import message_structs as w

_MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")


def build_content(message: w.Message, kind: MessageType) -> MessageContent | None:
    """Return the content of ``message``, or None when its type has no usable object."""
    builder = _BUILDERS.get(kind)
    return None if builder is None else builder(message)


def _text(message: w.Message) -> MessageContent | None:
    """``text``."""
    return None if message.text is None else TextContent(body=message.text.body)


def _media(message: w.Message) -> MessageContent | None:
    """``image``/``video``/``audio``/``document``/``sticker``."""
    kind = message.type
    media: w.Media | None = getattr(message, kind) if kind in _MEDIA_TYPES else None
    if media is None:
        return None
    return MediaContent(
        media_kind=kind,
        media_id=media.id,
        mime_type=media.mime_type,
        sha256=media.sha256,
        caption=media.caption,
        filename=media.filename,
        url=media.url,
        voice=media.voice,
        animated=media.animated,
    )


def _location(message: w.Message) -> MessageContent | None:
    """``location``."""
    loc = message.location
    if loc is None:
        return None
    return LocationContent(
        latitude=loc.latitude,
        longitude=loc.longitude,
        name=loc.name,
        address=loc.address,
        url=loc.url,
    )


def _contacts(message: w.Message) -> MessageContent | None:
    """``contacts``: one or more shared contact cards."""
    if message.contacts is None:
        return None
    return ContactsContent(contacts=tuple(_shared_contact(c) for c in message.contacts))


def _shared_contact(card: w.SharedContact) -> SharedContact:
    """One shared contact card; a ``null`` list of phones or emails reads as none."""
    phones = card.phones or ()
    return SharedContact(
        formatted_name=card.name.formatted_name,
        first_name=card.name.first_name,
        last_name=card.name.last_name,
        phones=tuple(SharedPhone(phone=p.phone, wa_id=p.wa_id, type=p.type) for p in phones),
        emails=tuple(e.email for e in card.emails or () if e.email),
    )


def _interactive(message: w.Message) -> MessageContent | None:
    """``interactive``: button_reply, list_reply or nfm_reply (a completed Flow)."""
    answer = message.interactive
    if answer is None:
        return None
    reply = answer.button_reply or answer.list_reply
    flow = answer.nfm_reply
    return InteractiveReplyContent(
        reply_type=InteractiveReplyType.parse(answer.type),
        reply_type_raw=answer.type,
        reply_id=None if reply is None else reply.id,
        title=reply.title if reply is not None else (flow.body if flow is not None else None),
        description=None if reply is None else reply.description,
        flow_response_json=None if flow is None else flow.response_json,
    )


def _button(message: w.Message) -> MessageContent | None:
    """``button``: a template quick-reply tap."""
    button = message.button
    if button is None:
        return None
    return TemplateButtonContent(payload=button.payload, text=button.text)


def _reaction(message: w.Message) -> MessageContent | None:
    """``reaction``; a missing emoji is a removal, like an empty one."""
    reaction = message.reaction
    if reaction is None:
        return None
    return ReactionContent(message_id=reaction.message_id, emoji=reaction.emoji or "")


def _order(message: w.Message) -> MessageContent | None:
    """``order``: a catalog cart."""
    order = message.order
    if order is None:
        return None
    items = tuple(
        OrderItem(
            product_retailer_id=item.product_retailer_id,
            quantity=item.quantity,
            item_price=item.item_price,
            currency=item.currency,
        )
        for item in order.product_items or ()
    )
    return OrderContent(catalog_id=order.catalog_id, text=order.text, items=items)


def _system(message: w.Message) -> MessageContent | None:
    """``system``: a changed phone number or BSUID; older payloads say ``new_wa_id``."""
    system = message.system
    if system is None:
        return None
    return SystemContent(
        change_type=SystemChangeType.parse(system.type),
        change_type_raw=system.type or "",
        body=system.body,
        new_wa_id=system.wa_id or system.new_wa_id,
        new_user_id=system.user_id or system.new_user_id,
    )


_BUILDERS: dict[MessageType, Callable[[w.Message], MessageContent | None]] = {
    MessageType.TEXT: _text,
    MessageType.IMAGE: _media,
    MessageType.VIDEO: _media,
    MessageType.AUDIO: _media,
    MessageType.DOCUMENT: _media,
    MessageType.STICKER: _media,
    MessageType.LOCATION: _location,
    MessageType.CONTACTS: _contacts,
    MessageType.INTERACTIVE: _interactive,
    MessageType.BUTTON: _button,
    MessageType.REACTION: _reaction,
    MessageType.ORDER: _order,
    MessageType.SYSTEM: _system,
}
