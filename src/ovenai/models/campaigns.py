"""Property-match campaigns: a listing sent to the leads it suits, and to whom it went."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ovenai.columns import UTCDateTime, new_id, utcnow
from ovenai.models.base import ID, Base, Timestamped


class CampaignStatus(StrEnum):
    """Where a campaign stands."""

    DRAFT = "draft"  # created, nothing queued yet
    RUNNING = "running"  # queued; its messages leave through the outbox
    PAUSED = "paused"  # its unsent messages are held
    CANCELLED = "cancelled"  # its unsent messages were cancelled
    DONE = "done"  # every queued message has left the outbox (sent or failed)


class RecipientOutcome(StrEnum):
    """What a campaign did for one matching lead."""

    QUEUED = "queued"  # a message was queued (its status is the message's)
    EXCLUDED = "excluded"  # not sent, for ``reason`` (ours, see ovenai.campaigns)
    CANCELLED = "cancelled"  # queued, then cancelled with the campaign before it left


class Campaign(Timestamped, Base):
    """One listing's campaign: its template family and what was matched (``criteria``: the
    listing's fields, the budget tolerance and the stages, as they were when it started)."""

    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    property_id: Mapped[str | None] = mapped_column(
        ForeignKey("properties.id", ondelete="SET NULL"), index=True
    )
    template: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(String(254))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CampaignRecipient(Base):
    """A matching lead of a campaign: queued (with its outbox message), excluded (with our
    reason, a code) or cancelled. Ids and codes only: no personal data."""

    __tablename__ = "campaign_recipients"

    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    lead_id: Mapped[str] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    message_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_campaign_recipients_lead", "lead_id", "outcome"),
        Index("ix_campaign_recipients_message", "message_id"),
    )
