"""The engagement score's history: each change of a lead's score, with its reason."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ovenai.columns import UTCDateTime, new_id, utcnow
from ovenai.models.base import ID, Base


class ScoreReason(StrEnum):
    """Why a lead's score changed (:mod:`ovenai.engagement` holds the points of each)."""

    REPLIED = "replied"
    BUTTON = "button"
    READ = "read"
    WANTS_VIEWING = "wants_viewing"
    ASKS_PRICE = "asks_price"
    WANTS_CALL = "wants_call"
    BOOKED = "booked"
    NOT_INTERESTED = "not_interested"
    OPTED_OUT = "opted_out"
    SILENCE = "silence"
    SET = "set"  # an agent, the API or an import wrote the score itself


class ScoreChange(Base):
    """One change of a lead's ``engagement_score``.

    ``delta`` is the change actually applied (after clamping to 0–100) and ``score`` the
    value after it, so a lead's changes add up to its score. ``source`` names what caused
    it (a message, a meeting, a user, a week of silence), never personal data.
    """

    __tablename__ = "score_changes"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delta: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(80))

    __table_args__ = (Index("ix_score_changes_lead_at", "lead_id", "at"),)
