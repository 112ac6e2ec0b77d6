"""Shared base, column helpers and the stored vocabularies (enums)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ovenai.columns import UTCDateTime, utcnow

ID = String(36)


class Base(DeclarativeBase):
    """Base of every table."""


class Role(StrEnum):
    """What a user may do: admins everything, agents their own and unassigned leads."""

    ADMIN = "admin"
    AGENT = "agent"


class Language(StrEnum):
    """Languages OvenAI writes to leads in; Hebrew first."""

    HE = "he"
    EN = "en"


class Source(StrEnum):
    """Where a lead came from."""

    WEB_FORM = "web_form"
    PORTAL = "portal"
    AD_REFERRAL = "ad_referral"
    WHATSAPP = "whatsapp"
    IMPORT = "import"
    MANUAL = "manual"


class Stage(StrEnum):
    """The sales pipeline, in order."""

    NEW = "new"
    CONTACTED = "contacted"
    VIEWING_SCHEDULED = "viewing_scheduled"
    VIEWING_DONE = "viewing_done"
    NEGOTIATION = "negotiation"
    CONTRACT = "contract"
    WON = "won"
    LOST = "lost"


class PropertyStatus(StrEnum):
    """A listing's availability."""

    AVAILABLE = "available"
    RESERVED = "reserved"
    SOLD = "sold"
    RENTED = "rented"
    WITHDRAWN = "withdrawn"


class MeetingStatus(StrEnum):
    """A viewing's state."""

    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    DONE = "done"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class Direction(StrEnum):
    """Which way a message went."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageStatus(StrEnum):
    """A message's delivery state; outbound moves forward only (docs/whatsapp-api-notes.md)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    RECEIVED = "received"


class Timestamped:
    """created_at / updated_at columns."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
