"""Webhook events as received: stored (encrypted) before they are acknowledged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ovenai.columns import UTCDateTime, new_id, utcnow
from ovenai.models.base import ID, Base


class WebhookEvent(Base):
    """One verified webhook body, sealed under its hour's key, and its processing state."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    key_bucket: Mapped[str] = mapped_column(String(16))
    body_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    body_size: Mapped[int] = mapped_column(Integer)
    headers: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_webhook_events_status", "status", "received_at"),
        # The hours whose bodies were applied since the kpis.webhooks job's last run.
        Index(
            "ix_webhook_events_processed",
            "processed_at",
            postgresql_where=text("processed_at IS NOT NULL"),
            sqlite_where=text("processed_at IS NOT NULL"),
        ),
    )


class WebhookHour(Base):
    """One bucket of the processing times of the bodies that arrived in one hour
    (ovenai.webhook_hours): how many, their sum, smallest and largest, in seconds; kept by
    the worker's ``kpis.webhooks`` job, read by the key figures."""

    __tablename__ = "webhook_hours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    bucket: Mapped[int] = mapped_column(Integer)  # ovenai.duration_buckets
    count: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column(Float)
    least: Mapped[float] = mapped_column(Float)
    most: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_webhook_hours_hour", "hour"),)


class WebhookHoursStale(Base):
    """An hour whose processing times must be counted again though no body of it was
    applied (retention deleted some): read live by the key figures until the job has."""

    __tablename__ = "webhook_hours_stale"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEventLead(Base):
    """Which leads a webhook body concerned (so erasure can redact their bodies)."""

    __tablename__ = "webhook_event_leads"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), primary_key=True
    )
    lead_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)


class AppliedItem(Base):
    """An item of a webhook (message, status, preference...) already applied: exactly once."""

    __tablename__ = "applied_items"

    # Compared byte by byte on PostgreSQL (migration 0032), so that a key's start (erasure,
    # pruning: ``LIKE 'status:<wamid>:%'``) is found by the primary key's index.
    dedupe_key: Mapped[str] = mapped_column(
        String(200).with_variant(String(200, collation="C"), "postgresql"), primary_key=True
    )
    event_id: Mapped[str | None] = mapped_column(String(36))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_applied_items_applied", "applied_at"),)  # retention (0033)


class WebhookItemFailure(Base):
    """An item of a stored body that could not be read: where and why, never its content.

    ``problem`` is the parser's message, which names paths and types; the item itself (it may
    hold names and texts) stays only in the sealed body, which a replay reads again.
    """

    __tablename__ = "webhook_item_failures"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    item: Mapped[str] = mapped_column(String(32))
    field: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(255))
    problem: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
