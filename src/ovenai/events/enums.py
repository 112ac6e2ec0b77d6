"""Meta's enumerated values, each tolerant of values Meta adds later (without notice).

Every enum has an ``UNKNOWN`` member; :meth:`MetaEnum.parse` maps any value we do not know
to it, and events keep the raw string next to the enum so nothing is lost.
"""

from __future__ import annotations

from ovenai.meta_enums import MetaEnum, TemplateStatus


class MessageType(MetaEnum):
    """``messages[].type`` (Meta: Webhooks › Reference › messages)."""

    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    INTERACTIVE = "interactive"
    BUTTON = "button"
    REACTION = "reaction"
    ORDER = "order"
    SYSTEM = "system"
    UNSUPPORTED = "unsupported"
    EDIT = "edit"
    REVOKE = "revoke"
    REQUEST_WELCOME = "request_welcome"
    UNKNOWN = "unknown"


class InteractiveReplyType(MetaEnum):
    """``interactive.type`` on an inbound reply."""

    BUTTON_REPLY = "button_reply"
    LIST_REPLY = "list_reply"
    NFM_REPLY = "nfm_reply"
    UNKNOWN = "unknown"


class SystemChangeType(MetaEnum):
    """``system.type``; the ``customer_*`` spellings are the older names of the same events."""

    USER_CHANGED_NUMBER = "user_changed_number"
    USER_CHANGED_USER_ID = "user_changed_user_id"
    CUSTOMER_CHANGED_NUMBER = "customer_changed_number"
    CUSTOMER_IDENTITY_CHANGED = "customer_identity_changed"
    UNKNOWN = "unknown"


class DeliveryStatus(MetaEnum):
    """``statuses[].status``; ``deleted``/``warning`` are On-Premises only."""

    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"
    DELETED = "deleted"
    WARNING = "warning"
    UNKNOWN = "unknown"


class MarketingPreference(MetaEnum):
    """``user_preferences[].value`` (Meta: Webhooks › Reference › user_preferences)."""

    STOP = "stop"
    RESUME = "resume"
    SIGNUP = "signup"
    UNKNOWN = "unknown"


TemplateEvent = TemplateStatus
"""``message_template_status_update.event``: the same values as a template's status."""


class QualityScore(MetaEnum):
    """Template quality (``GREEN``/``YELLOW``/``RED``; Meta's own ``UNKNOWN`` = pending)."""

    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"
    UNKNOWN = "UNKNOWN"
