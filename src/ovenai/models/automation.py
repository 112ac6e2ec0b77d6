"""Automation: the rules an agency runs on its leads, and the log of what each one did."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ovenai.columns import UTCDateTime, new_id, utcnow
from ovenai.models.base import ID, Base


class AutomationRule(Base):
    """One rule: when (trigger), for whom (conditions), what (actions), as JSON.

    ``definition`` is the rule as :class:`ovenai.automation.definitions.RuleDefinition`
    validates it; ``key`` names it in the seed file (``ovenai/automation/default_rules.yaml``)
    and on the command line.
    """

    __tablename__ = "automation_rules"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    """Run order: rules act one after the other, lowest first."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    definition: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class AutomationFiring(Base):
    """What one rule did, or why it did nothing, for one lead and one event.

    ``event`` names what triggered it (``message:<id>``, ``lead:<id>``, ``meeting:<id>``
    ...); a rule acts at most once per (rule, lead, event) — the unique index. ``detail`` is
    written for agents and never quotes the lead's messages (they are sealed; this is not).
    """

    __tablename__ = "automation_firings"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    rule_id: Mapped[str] = mapped_column(ForeignKey("automation_rules.id", ondelete="CASCADE"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(16))  # done, skipped, failed
    detail: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("uq_automation_firings_once", "rule_id", "lead_id", "event", unique=True),
        Index("ix_automation_firings_rule", "rule_id", "at"),
        Index("ix_automation_firings_lead", "lead_id", "at"),
    )


class SequenceEnrolment(Base):
    """A lead in a follow-up sequence (a rule's ``start_sequence`` action): which step is
    next and when it is due, kept in the database so a restarted worker loses nothing.

    ``stage`` is the lead's stage when enrolled: a different stage at a step stops the
    sequence. ``stopped_reason`` says why it ended (``answered``, ``opted_out``,
    ``stage_changed``, ``finished``, ``erased``, ``rule_removed``); ``stopped_at`` is null
    while it runs. One enrolment per rule, lead and event (the unique index).
    """

    __tablename__ = "automation_enrolments"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    rule_id: Mapped[str] = mapped_column(ForeignKey("automation_rules.id", ondelete="CASCADE"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(80))
    stage: Mapped[str] = mapped_column(String(24))
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    """The index of the step to run next (0 = the first)."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_reason: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("uq_automation_enrolments_once", "rule_id", "lead_id", "event", unique=True),
        Index("ix_automation_enrolments_due", "stopped_at", "due_at"),
        Index("ix_automation_enrolments_lead", "lead_id", "started_at"),
    )


class Notification(Base):
    """An in-app notice to one user (a lead's agent, or each admin when it has none), from
    a rule's ``notify_agent`` action. ``text`` is the rule's own words, never the lead's
    (this table is not sealed); ``lead_id`` links to the lead. ``email_state`` is null
    until the e-mail job looked at it: ``sent``, ``failed`` or ``none`` (no SMTP)."""

    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lead_id: Mapped[str | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    rule_id: Mapped[str | None] = mapped_column(
        ForeignKey("automation_rules.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_state: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_notifications_user", "user_id", "read_at", "created_at"),
        Index("ix_notifications_email", "email_state", "created_at"),
    )
