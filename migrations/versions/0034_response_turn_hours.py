"""response_turn_hours: agents' first-response waits by hour, agent and log-spaced bucket

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 22:40:00.000000

Key figures (ovenai.kpis, "First response"): a period's median and 95th percentile wait
were exact, one read and three sorts of every turn of the period (232,563 for 30 days at
a million messages: 550-850 ms). They are now read off log-spaced buckets, within 1 %
(ovenai.duration_buckets), as webhook processing times are: ``response_turn_hours`` keeps,
per UTC hour of a turn's start, agent who answered it and bucket of its wait, how many,
their sum, smallest and largest wait (``bucket`` NULL: the hour's turns not answered yet).
The ``kpis.turns`` job writes them in the transaction that writes the turns
(ovenai.turn_hours); ``response_turn_hours_stale`` names the hours retention took turns
from. Its first run after the upgrade counts every hour from ``response_turns`` (a
``turn_hours`` row of ``response_turns_progress``); until then the figures read the turns.

The job now resumes a lead's turns from its last kept turn before the messages written
since its last run, and its reply marks from that time (ovenai.response_turns), so
``ix_response_turns_lead_turn`` (lead, turn time) and ``ix_reply_marks_lead_at`` (lead,
time) replace the indexes on the lead alone. Downgrading drops the new tables and
restores the indexes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The kept hours are counted by the job's next run (none left from an earlier upgrade).
    op.execute("DELETE FROM response_turns_progress WHERE name = 'turn_hours'")
    op.create_table(
        "response_turn_hours",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "agent_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("bucket", sa.Integer(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("least", sa.Float(), nullable=False),
        sa.Column("most", sa.Float(), nullable=False),
    )
    op.create_index("ix_response_turn_hours_hour", "response_turn_hours", ["hour", "bucket"])
    op.create_table(
        "response_turn_hours_stale",
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_response_turns_lead_turn", "response_turns", ["lead_id", "turn_at"])
    op.drop_index("ix_response_turns_lead_id", table_name="response_turns")
    op.create_index("ix_reply_marks_lead_at", "reply_marks", ["lead_id", "at"])
    op.drop_index("ix_reply_marks_lead_id", table_name="reply_marks")


def downgrade() -> None:
    op.execute("DELETE FROM response_turns_progress WHERE name = 'turn_hours'")
    op.create_index("ix_reply_marks_lead_id", "reply_marks", ["lead_id"])
    op.drop_index("ix_reply_marks_lead_at", table_name="reply_marks")
    op.create_index("ix_response_turns_lead_id", "response_turns", ["lead_id"])
    op.drop_index("ix_response_turns_lead_turn", table_name="response_turns")
    op.drop_table("response_turn_hours_stale")
    op.drop_index("ix_response_turn_hours_hour", table_name="response_turn_hours")
    op.drop_table("response_turn_hours")
