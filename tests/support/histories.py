"""Rows of a lead's message history, for tests that build histories at random."""

from __future__ import annotations

from datetime import datetime

from ovenai.models import Direction, Message


def inbound_text(lead_id: str, at: datetime) -> Message:
    """A text the lead wrote at ``at`` (received, as the webhook processor stores it)."""
    return Message(
        lead_id=lead_id,
        direction=Direction.INBOUND,
        type="text",
        status="received",
        created_at=at,
    )
