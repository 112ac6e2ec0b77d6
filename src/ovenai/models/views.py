"""What the inbox keeps beside the leads: when each user last opened each lead (unread
counts), and blind-indexed parts of each lead's phone (search by part of a number)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ovenai.columns import UTCDateTime
from ovenai.models.base import Base


class LeadView(Base):
    """When a user last opened a lead's page: inbound messages after it are unread to them."""

    __tablename__ = "lead_views"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    lead_id: Mapped[str] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LeadPhoneToken(Base):
    """A blind index of a leading or trailing run of a lead's phone digits (4 or more), in
    international and national form, so a part of a number finds its lead without any digit
    stored in the clear. ``phone_index`` is the lead's phone index the token was made from:
    a token whose phone changed since (or was erased) no longer matches and is replaced."""

    __tablename__ = "lead_phone_tokens"

    lead_id: Mapped[str] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    phone_index: Mapped[str] = mapped_column(String(32))

    __table_args__ = (Index("ix_lead_phone_tokens_token", "token"),)
