"""What an inbound message says, one Struct per kind of content (Webhooks › Reference › messages).

Each content knows its plain-text rendering for the conversation view (:meth:`summary`).
"""

from __future__ import annotations

from msgspec import Struct

from ovenai.events.enums import InteractiveReplyType, SystemChangeType


class _Content(Struct, frozen=True, kw_only=True, tag_field="kind"):
    """Base of the content Structs; tagged so a stored event decodes back to its class."""

    def summary(self) -> str:
        """Return a one-line plain-text rendering for the conversation view."""
        raise NotImplementedError


class TextContent(_Content, frozen=True, kw_only=True, tag="text"):
    """A text message."""

    body: str

    def summary(self) -> str:
        """Return the text itself."""
        return self.body


class MediaContent(_Content, frozen=True, kw_only=True, tag="media"):
    """An image, video, audio, document or sticker; fetch it by ``media_id`` within 7 days."""

    media_kind: str
    media_id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    url: str | None = None
    voice: bool = False
    animated: bool = False

    def summary(self) -> str:
        """Return the caption, else the file name, else ``[image]``-style placeholder."""
        if self.caption:
            return self.caption
        if self.filename:
            return self.filename
        return "[voice message]" if self.voice else f"[{self.media_kind}]"


class LocationContent(_Content, frozen=True, kw_only=True, tag="location"):
    """A shared location; ``name``/``address`` only for chosen places."""

    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None
    url: str | None = None

    def summary(self) -> str:
        """Return the place name and address, else the coordinates."""
        named = ", ".join(part for part in (self.name, self.address) if part)
        return named or f"[location {self.latitude}, {self.longitude}]"


class SharedPhone(Struct, frozen=True, kw_only=True):
    """One phone number of a shared contact card."""

    phone: str | None = None
    wa_id: str | None = None
    type: str | None = None


class SharedContact(Struct, frozen=True, kw_only=True):
    """One shared contact card (a possible referral lead)."""

    formatted_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phones: tuple[SharedPhone, ...] = ()
    emails: tuple[str, ...] = ()


class ContactsContent(_Content, frozen=True, kw_only=True, tag="contacts"):
    """One or more shared contact cards."""

    contacts: tuple[SharedContact, ...] = ()

    def summary(self) -> str:
        """Return the shared names."""
        names = ", ".join(c.formatted_name or c.first_name or "?" for c in self.contacts)
        return f"[contact: {names}]"


class InteractiveReplyContent(_Content, frozen=True, kw_only=True, tag="interactive_reply"):
    """The user's tap on our reply button or list row, or a completed Flow."""

    reply_type: InteractiveReplyType
    reply_type_raw: str
    reply_id: str | None = None
    title: str | None = None
    description: str | None = None
    flow_response_json: str | None = None

    def summary(self) -> str:
        """Return the tapped title (or the Flow's body)."""
        return self.title or f"[{self.reply_type_raw or 'interactive'}]"


class TemplateButtonContent(_Content, frozen=True, kw_only=True, tag="template_button"):
    """A quick-reply button tapped on a template; ``payload`` is what we set when sending."""

    payload: str | None = None
    text: str | None = None

    def summary(self) -> str:
        """Return the button's text."""
        return self.text or self.payload or "[button]"


class ReactionContent(_Content, frozen=True, kw_only=True, tag="reaction"):
    """A reaction to ``message_id``; an empty ``emoji`` means the reaction was removed."""

    message_id: str | None = None
    emoji: str = ""

    @property
    def removed(self) -> bool:
        """Tell whether this event removes an earlier reaction."""
        return not self.emoji

    def summary(self) -> str:
        """Return the emoji, or a removal marker."""
        return self.emoji or "[reaction removed]"


class OrderItem(Struct, frozen=True, kw_only=True):
    """One line of a catalog order."""

    product_retailer_id: str | None = None
    quantity: float | None = None
    item_price: float | None = None
    currency: str | None = None


class OrderContent(_Content, frozen=True, kw_only=True, tag="order"):
    """A catalog cart sent by the user."""

    catalog_id: str | None = None
    text: str | None = None
    items: tuple[OrderItem, ...] = ()

    def summary(self) -> str:
        """Return the order's note, else the number of items."""
        return self.text or f"[order: {len(self.items)} items]"


class SystemContent(_Content, frozen=True, kw_only=True, tag="system"):
    """The user changed phone number (``new_wa_id``) or BSUID (``new_user_id``)."""

    change_type: SystemChangeType
    change_type_raw: str
    body: str | None = None
    new_wa_id: str | None = None
    new_user_id: str | None = None

    def summary(self) -> str:
        """Return Meta's description of the change."""
        return self.body or f"[{self.change_type_raw}]"


class UnsupportedContent(_Content, frozen=True, kw_only=True, tag="unsupported"):
    """Content we cannot show: Meta's ``unsupported`` type, a new type, or an odd shape."""

    raw_type: str
    subtype: str | None = None
    raw_json: str = ""
    problem: str | None = None

    def summary(self) -> str:
        """Return a placeholder naming the type."""
        return f"[unsupported message: {self.subtype or self.raw_type}]"


MessageContent = (
    TextContent
    | MediaContent
    | LocationContent
    | ContactsContent
    | InteractiveReplyContent
    | TemplateButtonContent
    | ReactionContent
    | OrderContent
    | SystemContent
    | UnsupportedContent
)
