"""Audit trail, data-subject requests and consent evidence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ovenai.columns import UTCDateTime, new_id, utcnow
from ovenai.models.base import ID, Base


class AuditEntry(Base):
    """Who viewed, exported, erased or changed what, and when. Append-only; no personal data."""

    __tablename__ = "audit_log"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[str | None] = mapped_column(String(36))
    actor_label: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(32))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(36), index=True)
    details: Mapped[str | None] = mapped_column(Text)


class PrivacyRequest(Base):
    """A data-subject request (access, export, erasure) and its 30-day deadline."""

    __tablename__ = "privacy_requests"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    lead_id: Mapped[str | None] = mapped_column(String(36), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_by: Mapped[str] = mapped_column(String(254))
    note: Mapped[str | None] = mapped_column(Text)


class ConsentEvent(Base):
    """One change of a lead's consent, with its evidence (sealed under the lead's key)."""

    __tablename__ = "consent_events"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16), default="marketing")
    channel: Mapped[str] = mapped_column(String(32))
    actor_label: Mapped[str] = mapped_column(String(254))
    evidence_enc: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_consent_events_lead", "lead_id", "at"),)


class DoNotContact(Base):
    """A phone never to be messaged: the blind index of an erased opted-out lead's phone.

    A keyed hash and the time it was added, nothing else, so it survives the erasure that
    destroyed the lead's key; a lead created later with that phone is opted out at once.
    """

    __tablename__ = "do_not_contact"

    phone_index: Mapped[str] = mapped_column(String(32), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
