"""graph_call_times: how long the Graph API took to answer, by minute and by hour

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 12:30:00.000000

Monitoring (ovenai.graph_times): every process that calls the Graph API counts each call's
duration into log-spaced buckets (ovenai.duration_buckets) and adds them, every few
seconds, to a row per (span, start, endpoint kind, bucket): minutes for the slow-response
alert, hours for the key figures' "Graph API response time". Downgrading drops the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "graph_call_times",
        sa.Column("span_s", sa.Integer(), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("endpoint", sa.String(32), primary_key=True),
        sa.Column("bucket", sa.Integer(), primary_key=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("least", sa.Float(), nullable=False),
        sa.Column("most", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("graph_call_times")
