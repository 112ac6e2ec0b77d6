"""Leads, listings and viewings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ovenai.columns import UTCDateTime, new_id
from ovenai.models.base import (
    ID,
    Base,
    Language,
    MeetingStatus,
    PropertyStatus,
    Source,
    Stage,
    Timestamped,
)


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
    # The phone index this lead's search tokens were made from (ovenai.phone_search; None:
    # no tokens). Where it differs from phone_index the tokens are out of date: the partial
    # index ix_leads_phone_tokens_stale (migration 0029) finds those leads.
    phone_tokens_index: Mapped[str | None] = mapped_column(String(32))
    bsuid_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    bsuid_index: Mapped[str | None] = mapped_column(String(32), unique=True)
    wa_id_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    wa_id_index: Mapped[str | None] = mapped_column(String(32), unique=True)
    username_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Not unique: WhatsApp lets a username go to another user once it is given up.
    username_index: Mapped[str | None] = mapped_column(String(32), index=True)
    profile_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    notes_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Not unique: a couple or a family may share one address.
    email_index: Mapped[str | None] = mapped_column(String(32), index=True)
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
    # The lawful basis for marketing (ovenai.consent): "opt_in", "inquiry_30a" or None
    # (utility messages only); when and by which source it was set.
    marketing_basis: Mapped[str | None] = mapped_column(String(16))
    marketing_basis_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    marketing_basis_source: Mapped[str | None] = mapped_column(String(32))
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The newest message's time either way, else the creation, and the newest message (by
    # time, then id): kept by the database's triggers on leads and messages (migration
    # 0025), never written here. The inbox orders by (last_activity_at DESC, id DESC):
    # index ix_leads_activity.
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    latest_message_id: Mapped[str | None] = mapped_column(String(36))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Retention: the closed leads not yet erased, by when they closed (migration 0033).
        Index(
            "ix_leads_closed",
            "closed_at",
            postgresql_where=text("closed_at IS NOT NULL AND erased_at IS NULL"),
            sqlite_where=text("closed_at IS NOT NULL AND erased_at IS NULL"),
        ),
    )


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
