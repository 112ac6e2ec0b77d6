"""Meta's webhook JSON as msgspec Structs (the raw layer; Meta: Webhooks › Reference).

Decoded with :func:`ovenai.ingest.parse.lenient_json.read`: unknown keys are ignored so Meta
may add fields, a numeric string reads as a number, a ``null`` list as empty; otherwise a
known key must have the documented JSON type. Arrays of entries, changes and items are
kept as :class:`msgspec.Raw` and decoded one element at a time, so one odd entry, change,
message or status cannot fail its siblings; a body whose entries and changes are all sound
is first read in one pass (:class:`SoundEnvelope`), with the same types.
"""

from __future__ import annotations

from msgspec import Raw, Struct, field

NULL = Raw(b"null")

Items = list[Raw] | None
"""An array decoded one element at a time; ``null`` (read as empty) where Meta sends none."""


class Envelope(Struct):
    """The top level: ``{"object": ..., "entry": [...]}``; ``entry`` stays raw until
    ``object`` says the body is ours (another product's entries are never read)."""

    object: str
    entry: Raw = NULL


class Entry(Struct):
    """One ``entry[]`` item; ``id`` is the WABA id; an entry exists to carry ``changes``."""

    id: str | int
    changes: Items
    time: int | None = None


class Change(Struct):
    """One ``entry[].changes[]`` item; ``value`` is decoded according to ``field``."""

    field: str
    value: Raw


class SoundEntry(Struct):
    """An :class:`Entry` whose changes are all sound: read in the same pass as the envelope."""

    id: str | int
    changes: list[Change] | None
    time: int | None = None


class SoundEnvelope(Struct):
    """An :class:`Envelope` of sound entries: the common case, read in one decoder pass."""

    object: str
    entry: list[SoundEntry] | None = None


class Metadata(Struct):
    """The business number a ``messages`` change concerns."""

    display_phone_number: str = ""
    phone_number_id: str = ""


class ChangeValue(Struct):
    """``value`` of ``messages`` and ``user_preferences`` changes."""

    metadata: Metadata = field(default_factory=Metadata)
    contacts: Items = None
    messages: Items = None
    statuses: Items = None
    errors: Items = None
    user_preferences: Items = None


class Profile(Struct):
    """``contacts[].profile``."""

    name: str | None = None
    username: str | None = None


class Contact(Struct):
    """``contacts[]``: who sent the messages of this change."""

    wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    profile: Profile = field(default_factory=Profile)


class ErrorData(Struct):
    """``errors[].error_data`` when it is an object."""

    details: str | None = None


class Error(Struct):
    """``errors[]`` on a change, a message or a status."""

    code: int | None = None
    title: str | None = None
    message: str | None = None
    error_data: ErrorData | str | None = None
    href: str | None = None


class UserPreference(Struct):
    """``user_preferences[]``: a user stopped or resumed marketing messages."""

    category: str = ""
    value: str = ""
    timestamp: int | str = 0
    wa_id: str | None = None
    user_id: str | None = None
    detail: str | None = None


class Conversation(Struct):
    """``statuses[].conversation`` (absent on v24+ except free entry points)."""

    id: str | None = None
    expiration_timestamp: int | str | None = None
    origin: dict[str, str | None] = {}


class Pricing(Struct):
    """``statuses[].pricing``."""

    billable: bool | None = None
    pricing_model: str | None = None
    type: str | None = None
    category: str | None = None


class StatusCore(Struct):
    """The fields of a status we cannot do without (``id`` and ``status`` not empty)."""

    id: str
    status: str
    timestamp: int | str
    recipient_id: str | None = None
    recipient_user_id: str | None = None

    def __post_init__(self) -> None:
        """Refuse an empty wamid or status: the status could not be matched or keyed."""
        if not (self.id and self.status):
            raise ValueError("a status needs a non-empty `id` and `status`")


class Status(StatusCore):
    """``statuses[]``: delivery statuses of the messages we sent."""

    recipient_parent_user_id: str | None = None
    recipient_type: str | None = None
    recipient_participant_id: str | None = None
    biz_opaque_callback_data: str | None = None
    conversation: Conversation | None = None
    pricing: Pricing | None = None
    errors: list[Error] | None = None


class RejectionInfo(Struct):
    """``rejection_info`` of a rejected template."""

    reason: str | None = None
    recommendation: str | None = None


class OtherInfo(Struct):
    """``other_info`` of a paused/locked template."""

    title: str | None = None
    description: str | None = None


class DisableInfo(Struct):
    """``disable_info`` of a disabled template."""

    disable_date: int | str | None = None


class TemplateStatusValue(Struct):
    """``message_template_status_update`` value."""

    event: str
    message_template_id: int | str
    message_template_name: str | None = None
    message_template_language: str | None = None
    reason: str | None = None
    message_template_category: str | None = None
    rejection_info: RejectionInfo | None = None
    disable_info: DisableInfo | None = None
    other_info: OtherInfo | None = None


class TemplateQualityValue(Struct):
    """``message_template_quality_update`` value."""

    message_template_id: int | str
    previous_quality_score: str | None = None
    new_quality_score: str | None = None
    message_template_name: str | None = None
    message_template_language: str | None = None


class TemplateCategoryValue(Struct):
    """``template_category_update`` value."""

    message_template_id: int | str
    new_category: str | None = None
    previous_category: str | None = None
    message_template_name: str | None = None
    message_template_language: str | None = None


class AccountValue(Struct):
    """The one key shared by most account-level values: ``event``."""

    event: str | None = None
