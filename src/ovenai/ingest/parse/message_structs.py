"""Meta's inbound ``messages[]`` item as msgspec Structs (Meta: Webhooks › Reference).

Read with :func:`ovenai.ingest.parse.lenient_json.read`, like the rest of the raw layer.
"""

from __future__ import annotations

from msgspec import Struct, field

from ovenai.ingest.parse.change_structs import Error


class Text(Struct):
    """``text``."""

    body: str = ""


class Media(Struct):
    """``image`` / ``video`` / ``audio`` / ``document`` / ``sticker``."""

    id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    url: str | None = None
    voice: bool = False
    animated: bool = False


class Location(Struct):
    """``location``; coordinates are JSON numbers."""

    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None
    url: str | None = None


class ContactName(Struct):
    """``contacts[].name`` of a shared contact card."""

    formatted_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class ContactPhone(Struct):
    """``contacts[].phones[]`` of a shared contact card."""

    phone: str | None = None
    wa_id: str | None = None
    type: str | None = None


class ContactEmail(Struct):
    """``contacts[].emails[]`` of a shared contact card."""

    email: str | None = None
    type: str | None = None


class SharedContact(Struct):
    """One vCard-like card of a ``contacts`` message."""

    name: ContactName = field(default_factory=ContactName)
    phones: list[ContactPhone] | None = None
    emails: list[ContactEmail] | None = None


class Reply(Struct):
    """``interactive.button_reply`` / ``interactive.list_reply``."""

    id: str = ""
    title: str = ""
    description: str | None = None


class FlowReply(Struct):
    """``interactive.nfm_reply`` (a completed Flow)."""

    name: str | None = None
    body: str | None = None
    response_json: str | None = None


class Interactive(Struct):
    """``interactive``: the user's answer to our buttons, list or Flow."""

    type: str = ""
    button_reply: Reply | None = None
    list_reply: Reply | None = None
    nfm_reply: FlowReply | None = None


class Button(Struct):
    """``button``: a quick-reply button tapped on a template."""

    payload: str | None = None
    text: str | None = None


class Reaction(Struct):
    """``reaction``; a missing or empty emoji removes the reaction."""

    message_id: str | None = None
    emoji: str | None = None


class OrderItem(Struct):
    """``order.product_items[]``."""

    product_retailer_id: str | None = None
    quantity: int | float | None = None
    item_price: int | float | None = None
    currency: str | None = None


class Order(Struct):
    """``order``: a catalog cart."""

    catalog_id: str | None = None
    text: str | None = None
    product_items: list[OrderItem] | None = None


class System(Struct):
    """``system``: the user changed number or BSUID (older names use ``new_wa_id``)."""

    body: str | None = None
    type: str | None = None
    wa_id: str | None = None
    new_wa_id: str | None = None
    user_id: str | None = None
    new_user_id: str | None = None


class Unsupported(Struct):
    """``unsupported``: what WhatsApp could not deliver to the API."""

    type: str | None = None


class ReferredProduct(Struct):
    """``context.referred_product``."""

    catalog_id: str | None = None
    product_retailer_id: str | None = None


class Context(Struct):
    """``context``: the quoted message, or forwarding flags."""

    from_: str | None = field(name="from", default=None)
    id: str | None = None
    forwarded: bool = False
    frequently_forwarded: bool = False
    referred_product: ReferredProduct | None = None


class WelcomeMessage(Struct):
    """``referral.welcome_message``."""

    text: str | None = None


class Referral(Struct):
    """``referral``: the click-to-WhatsApp ad or post the user came from."""

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
    welcome_message: WelcomeMessage | None = None


class MessageCore(Struct):
    """The fields of a message we cannot do without: its wamid, time and sender."""

    id: str
    timestamp: int | str
    type: str = "unknown"
    from_: str | None = field(name="from", default=None)
    from_user_id: str | None = None

    def __post_init__(self) -> None:
        """Refuse a message we could neither key (no wamid) nor attribute (no sender)."""
        if not self.id:
            raise ValueError("a message needs a non-empty `id`")
        if not (self.from_ or self.from_user_id):
            raise ValueError("a message needs `from` or `from_user_id`")


class Message(MessageCore):
    """``messages[]``: one inbound user message with the object named after its type."""

    context: Context | None = None
    referral: Referral | None = None
    errors: list[Error] | None = None
    text: Text | None = None
    image: Media | None = None
    video: Media | None = None
    audio: Media | None = None
    document: Media | None = None
    sticker: Media | None = None
    location: Location | None = None
    contacts: list[SharedContact] | None = None
    interactive: Interactive | None = None
    button: Button | None = None
    reaction: Reaction | None = None
    order: Order | None = None
    system: System | None = None
    unsupported: Unsupported | None = None
