"""Messages of conversations and their delivery statuses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ovenai.columns import UTCDateTime, new_id, utcnow
from ovenai.models.base import ID, Base, Timestamped


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
    # Outbox: when a queued message may leave, who holds it, and how often it was tried.
    send_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Throttling answers in a row (130429, 131056, ...): their attempts are given back, so
    # this is what their growing waits count (outbox/retry.py); 0 again after any other.
    throttled_attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    # SHA-256 of the API request the key came with: the key with another body is refused.
    idempotency_body: Mapped[str | None] = mapped_column(String(64))
    # The automation rule that queued it (None: a person or the API; ovenai.automation).
    rule_id: Mapped[str | None] = mapped_column(
        ForeignKey("automation_rules.id", ondelete="SET NULL")
    )

    __table_args__ = (
        Index("ix_messages_lead_created", "lead_id", "created_at"),
        Index("ix_messages_outbox", "status", "next_attempt_at"),
        # Retention: the messages created before the limit (migration 0033).
        Index("ix_messages_created", "created_at"),
        UniqueConstraint("idempotency_key", name="uq_messages_idempotency_key"),
        # Key figures (ovenai.kpis): a period's outbound outcomes, read from the index alone;
        # failures never accepted; inbound messages by time.
        Index(
            "ix_messages_out_outcome",
            "sent_at",
            "status",
            "template_name",
            "error_code",
            postgresql_where=text("direction = 'outbound'"),
            sqlite_where=text("direction = 'outbound'"),
        ),
        Index(
            "ix_messages_out_failed",
            "failed_at",
            postgresql_where=text("direction = 'outbound' AND sent_at IS NULL"),
            sqlite_where=text("direction = 'outbound' AND sent_at IS NULL"),
        ),
        # The titles of a period's error codes (ovenai.kpis): failures by time, index-only.
        Index(
            "ix_messages_out_failures",
            "failed_at",
            "error_code",
            "error_title",
            postgresql_where=text("direction = 'outbound' AND failed_at IS NOT NULL"),
            sqlite_where=text("direction = 'outbound' AND failed_at IS NOT NULL"),
        ),
        # The cohort's hours a change touched (ovenai.cohort_hours): outbound by last write.
        Index(
            "ix_messages_out_updated",
            "updated_at",
            postgresql_where=text("direction = 'outbound'"),
            sqlite_where=text("direction = 'outbound'"),
        ),
        Index(
            "ix_messages_in_created",
            "created_at",
            "lead_id",
            postgresql_where=text("direction = 'inbound'"),
            sqlite_where=text("direction = 'inbound'"),
        ),
    )


class ResponseTurn(Base):
    """A lead's turn and its first response by a person (ovenai.response_turns): kept by
    the worker's ``kpis.turns`` job from the lead's messages, read by the key figures."""

    __tablename__ = "response_turns"

    # The inbound message that started the turn: the turn goes with it.
    message_id: Mapped[str] = mapped_column(
        ID, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    turn_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        Index("ix_response_turns_turn_at", "turn_at"),
        # A lead's last turn before a moment (the job resumes there: ovenai.response_turns).
        Index("ix_response_turns_lead_turn", "lead_id", "turn_at"),
    )


class ReplyMark(Base):
    """One of a lead's facts the reply rate counts (ovenai.response_turns), kept by the
    worker's ``kpis.turns`` job: ``written``, an accepted message of ours (``at``: its
    ``sent_at``; ``previous_at``: the lead's accepted message before it), or ``replied``,
    the lead's first message after ours (``at``: our last accepted message before it;
    ``reply_at``: when the lead wrote; ``previous_at``: the lead's ``replied`` row before).
    A period's leads are then the rows whose ``previous_at`` lies before it: one a lead."""

    __tablename__ = "reply_marks"

    message_id: Mapped[str] = mapped_column(
        ID, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    previous_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(
            "ix_reply_marks_kind_at",
            "kind",
            "at",
            postgresql_include=["previous_at", "reply_at", "lead_id"],
        ),
        # A lead's marks from a moment (the job resumes there: ovenai.response_turns).
        Index("ix_reply_marks_lead_at", "lead_id", "at"),
        # A period's edges and the marks after its end (ovenai.reply_hours).
        Index("ix_reply_marks_kind_previous", "kind", "previous_at", postgresql_include=["at"]),
        Index(
            "ix_reply_marks_kind_reply",
            "kind",
            "reply_at",
            postgresql_include=["at", "previous_at"],
        ),
    )


class ReplyMarkHour(Base):
    """The reply marks of one kind by UTC hour (ovenai.reply_hours): ``marks``, those whose
    ``at`` falls in the hour; ``next_marks``, those whose ``previous_at`` does (the lead's
    next mark after one of this hour). Kept by the database's triggers on ``reply_marks``
    (migration 0030), whoever writes or deletes marks; read by the key figures."""

    __tablename__ = "reply_mark_hours"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    marks: Mapped[int] = mapped_column(Integer)
    next_marks: Mapped[int] = mapped_column(Integer)


# Emptying every table in reverse dependency order (the tests' and the demo's reset) must
# empty reply_marks first: its delete triggers write reply_mark_hours.
Base.metadata.tables["reply_marks"].add_is_dependent_on(Base.metadata.tables["reply_mark_hours"])


class ResponseTurnsStale(Base):
    """A lead whose turns must be counted again though none of its messages was touched
    (retention deleted some): read live by the key figures until the job has."""

    __tablename__ = "response_turns_stale"

    lead_id: Mapped[str] = mapped_column(
        ID, ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ResponseTurnsProgress(Base):
    """How far the ``kpis.turns`` job has counted: every lead whose messages were last
    touched before ``done_until`` (less a grace for slow transactions) is in
    ``response_turns``. No row: never counted yet, the key figures count live. The row
    named ``cohort`` is the ``kpis.cohort`` job's, the same for ``cohort_hours``."""

    __tablename__ = "response_turns_progress"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    done_until: Mapped[datetime] = mapped_column(UTCDateTime)


class ResponseTurnHour(Base):
    """The turns leads started in one UTC hour (ovenai.turn_hours), by the agent who first
    answered and the log-spaced bucket of the wait (ovenai.duration_buckets): how many,
    their sum, smallest and largest wait, in seconds. ``bucket`` None: the hour's turns not
    answered yet (``agent_id`` None, the sums 0). No lead is named; kept by the worker's
    ``kpis.turns`` job in the transaction that writes the turns, read by the key figures."""

    __tablename__ = "response_turn_hours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    bucket: Mapped[int | None] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column(Float)
    least: Mapped[float] = mapped_column(Float)
    most: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_response_turn_hours_hour", "hour", "bucket"),)


class ResponseTurnHoursStale(Base):
    """An hour whose kept turns lost rows the job did not write (retention deleted their
    messages): read from the turns by the key figures until the job has counted it again."""

    __tablename__ = "response_turn_hours_stale"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CohortHour(Base):
    """The outbound cohort of one hour (ovenai.cohort_hours): how many of our messages whose
    first outcome (``sent_at``, else ``failed_at``) falls in the hour are in each (status,
    template, error code); kept by the worker's ``kpis.cohort`` job, read by the key
    figures."""

    __tablename__ = "cohort_hours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    template_name: Mapped[str] = mapped_column(String(512))  # "": free text
    error_code: Mapped[int | None] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_cohort_hours_hour", "hour"),)


class CohortHoursStale(Base):
    """An hour whose cohort must be counted again though no message of it was touched
    (retention deleted some): read live by the key figures until the job has."""

    __tablename__ = "cohort_hours_stale"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatusEvent(Base):
    """One delivery status Meta reported for one message, kept once per (message, status).

    The message's own status is the highest-ranked of these (forward only); a status that
    arrives before its message is kept here and applied when the message appears.
    """

    __tablename__ = "status_events"

    wa_message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_title: Mapped[str | None] = mapped_column(String(300))
    error_detail: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_status_events_unapplied", "applied", "received_at"),
        Index("ix_status_events_received", "received_at"),  # retention (migration 0033)
    )


class MessageTemplate(Base):
    """A Meta message template of one WABA in one language (a family groups languages)."""

    __tablename__ = "message_templates"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    waba_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16))
    family: Mapped[str] = mapped_column(String(512), index=True)
    category: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    quality: Mapped[str | None] = mapped_column(String(16))
    meta_id: Mapped[str | None] = mapped_column(String(64))
    parameter_format: Mapped[str] = mapped_column(String(16), default="positional")
    components: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    rejected_reason: Mapped[str | None] = mapped_column(String(300))
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("waba_id", "name", "language", name="uq_message_templates_name"),
    )
