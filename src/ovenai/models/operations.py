"""State the processes share: job locks, switches, rate limits and alerts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ovenai.columns import UTCDateTime, new_id, utcnow
from ovenai.models.base import ID, Base


class JobLock(Base):
    """A timed job's lease, so only one worker runs it even when several are up."""

    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SystemFlag(Base):
    """A product-wide switch, e.g. sending paused after an invalid access token."""

    __tablename__ = "system_flags"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RateBucket(Base):
    """A token bucket shared by every worker (when Redis is not configured)."""

    __tablename__ = "rate_buckets"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    rate: Mapped[float] = mapped_column(Float)
    capacity: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GraphCallTime(Base):
    """How long the Graph API took to answer, kept by span (a minute or an hour), endpoint
    kind and log-spaced bucket (ovenai.graph_times): the key figures read the hours, the
    slow-response alert the last minutes."""

    __tablename__ = "graph_call_times"

    span_s: Mapped[int] = mapped_column(Integer, primary_key=True)  # 60 or 3600
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column(Float)
    least: Mapped[float] = mapped_column(Float)
    most: Mapped[float] = mapped_column(Float)


class ThrottleCount(Base):
    """Recent failures of one key (an e-mail or an address), counted in a fixed window.

    Sign-in counts an attempt here before it checks the password, in one statement that
    also returns the new count, so a burst of concurrent guesses cannot all pass the check.
    """

    __tablename__ = "throttle_counts"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer)


class ReachedUser(Base):
    """A user a business-initiated message reached: one place of the messaging-limit tier.

    The tier counts unique users per business portfolio in a rolling 24 hours (Meta's
    "WhatsApp Business Platform › Messaging limits"); the row also names the sending number,
    so several numbers of a portfolio can share one deployment. ``phone_number_id`` is empty
    on rows carried over from before it was recorded (migration 0003).
    """

    __tablename__ = "reached_users"

    portfolio: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone_number_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    lead_id: Mapped[str] = mapped_column(ID, primary_key=True)
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_reached_users_reached_at", "reached_at"),)


class Alert(Base):
    """Something an owner must know (token invalid, template paused, quality dropped)."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    message_he: Mapped[str | None] = mapped_column(Text)  # the same in Hebrew (0023)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Monitoring (alert_rules.py, migration 0010): when "fired" (or the last repeat) and
    # "resolved" were queued for the notifiers, and who acknowledged it on the dashboard.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (Index("ix_alerts_open", "resolved_at", "at"),)


class AlertDelivery(Base):
    """One notification of an alert to one recipient (an e-mail address, or Slack).

    The evaluator only writes these rows; the worker's delivery job sends them, retrying with
    backoff, so a notifier that hangs or fails never holds the evaluation up.
    """

    __tablename__ = "alert_deliveries"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(16))  # fired, repeat, resolved
    channel: Mapped[str] = mapped_column(String(16))  # email, slack
    recipient: Mapped[str] = mapped_column(String(254))  # an address; "" for Slack
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (Index("ix_alert_deliveries_due", "status", "next_attempt_at"),)
