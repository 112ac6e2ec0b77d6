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
