"""The stored shape of OvenAI (SQLAlchemy 2 declarative models).

Personal data is never stored in plaintext: columns ending in `_enc` hold AES-256-GCM
ciphertext under the lead's own data key, which lives in the separate key store (see
:mod:`ovenai.keystore`), and lookups by phone,
BSUID or WhatsApp id go through keyed blind indexes (`*_index`). The schema itself is made
only by the Alembic migrations in `migrations/`; keep both in step.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ovenai.db import UTCDateTime, new_id, utcnow

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
    """A message's delivery state; outbound moves forward only (see cloud-api.md §3.1)."""

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


class User(Timestamped, Base):
    """A person who signs in: an admin or an agent."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class ApiToken(Base):
    """A bearer token for the REST API, stored only as a SHA-256 hash."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Property(Timestamped, Base):
    """A listing the agency offers."""

    __tablename__ = "properties"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), index=True)
    area: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(300))
    rooms: Mapped[Decimal | None] = mapped_column(Numeric(3, 1))
    size_m2: Mapped[int | None] = mapped_column(Integer)
    price: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=PropertyStatus.AVAILABLE, index=True)
    description: Mapped[str | None] = mapped_column(Text)


class Lead(Timestamped, Base):
    """A prospective buyer or renter and their WhatsApp identity."""

    __tablename__ = "leads"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_index: Mapped[str | None] = mapped_column(String(32), unique=True)
    bsuid_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    bsuid_index: Mapped[str | None] = mapped_column(String(32), unique=True)
    wa_id_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    wa_id_index: Mapped[str | None] = mapped_column(String(32), unique=True)
    username_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    profile_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    notes_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    language: Mapped[str] = mapped_column(String(8), default=Language.HE)
    source: Mapped[str] = mapped_column(String(16), default=Source.MANUAL)
    stage: Mapped[str] = mapped_column(String(24), default=Stage.NEW, index=True)
    assigned_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    property_id: Mapped[str | None] = mapped_column(
        ForeignKey("properties.id", ondelete="SET NULL")
    )
    want_city: Mapped[str | None] = mapped_column(String(100))
    want_area: Mapped[str | None] = mapped_column(String(100))
    want_rooms_min: Mapped[Decimal | None] = mapped_column(Numeric(3, 1))
    want_rooms_max: Mapped[Decimal | None] = mapped_column(Numeric(3, 1))
    want_size_min: Mapped[int | None] = mapped_column(Integer)
    want_budget_min: Mapped[int | None] = mapped_column(Integer)
    want_budget_max: Mapped[int | None] = mapped_column(Integer)
    engagement_score: Mapped[int] = mapped_column(Integer, default=0)
    opted_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opt_in_source: Mapped[str | None] = mapped_column(String(64))
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LeadNameToken(Base):
    """Blind-indexed word prefixes of a lead's name, so encrypted names can be searched."""

    __tablename__ = "lead_name_tokens"

    lead_id: Mapped[str] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(32), primary_key=True)

    __table_args__ = (Index("ix_lead_name_tokens_token", "token"),)


class Meeting(Timestamped, Base):
    """A viewing of a property with a lead."""

    __tablename__ = "meetings"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    property_id: Mapped[str | None] = mapped_column(
        ForeignKey("properties.id", ondelete="SET NULL"), index=True
    )
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    status: Mapped[str] = mapped_column(String(16), default=MeetingStatus.PROPOSED)
    notes_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Message(Timestamped, Base):
    """One WhatsApp message in a lead's conversation, either way."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(24))
    text_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    payload_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    template_name: Mapped[str | None] = mapped_column(String(512))
    template_language: Mapped[str | None] = mapped_column(String(16))
    template_params_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    category: Mapped[str | None] = mapped_column(String(24))
    wa_message_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    context_wa_message_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    status_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_title: Mapped[str | None] = mapped_column(String(300))
    error_detail: Mapped[str | None] = mapped_column(Text)
    sent_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (Index("ix_messages_lead_created", "lead_id", "created_at"),)
