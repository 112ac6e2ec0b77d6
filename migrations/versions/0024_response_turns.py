"""response_turns: leads' turns and their first responses, kept for the key figures

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 21:30:00.000000

Key figures (ovenai.kpis, "First response"): the worker's ``kpis.turns`` job keeps each
lead's turns in ``response_turns`` (ovenai.response_turns), so a period's first responses
are an indexed range of it instead of a window over every message of the leads active in
the period. The leads whose inbound or person-sent messages were written since the job
last ran are found by their messages' ids (time-ordered: the primary key's index) and
counted live meanwhile. ``reply_marks`` keeps, the same way, the facts the reply rate
counts (each accepted message of ours, each first reply after one, with the lead's
previous of each), so a period's leads written and replied are counted without grouping
by lead. ``response_turns_stale`` names leads retention took messages from;
``response_turns_progress`` says how far the job has counted (no row: the figures are
counted live until its first run, which counts every lead). Downgrading drops them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "response_turns",
        sa.Column(
            "message_id",
            sa.String(36),
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "lead_id", sa.String(36), sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("turn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reply_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "replied_by_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.create_index("ix_response_turns_turn_at", "response_turns", ["turn_at"])
    op.create_index("ix_response_turns_lead_id", "response_turns", ["lead_id"])
    op.create_table(
        "reply_marks",
        sa.Column(
            "message_id",
            sa.String(36),
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "lead_id", sa.String(36), sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("previous_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_reply_marks_kind_at",
        "reply_marks",
        ["kind", "at"],
        postgresql_include=["previous_at", "reply_at", "lead_id"],
    )
    op.create_index("ix_reply_marks_lead_id", "reply_marks", ["lead_id"])
    op.create_table(
        "response_turns_stale",
        sa.Column(
            "lead_id",
            sa.String(36),
            sa.ForeignKey("leads.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "response_turns_progress",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("done_until", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("response_turns_progress")
    op.drop_table("response_turns_stale")
    op.drop_index("ix_reply_marks_lead_id", table_name="reply_marks")
    op.drop_index("ix_reply_marks_kind_at", table_name="reply_marks")
    op.drop_table("reply_marks")
    op.drop_index("ix_response_turns_lead_id", table_name="response_turns")
    op.drop_index("ix_response_turns_turn_at", table_name="response_turns")
    op.drop_table("response_turns")
