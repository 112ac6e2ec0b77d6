"""cohort_hours, webhook_hours: the outbound cohort and webhook processing times by hour

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 08:30:00.000000

Key figures (ovenai.kpis, "The outbound cohort"): a period's cohort was a scan of its
outbound messages grouped by status, template and error code (168-215 ms for 30 days at a
million messages). The worker's ``kpis.cohort`` job keeps each hour's counts in
``cohort_hours`` (ovenai.cohort_hours), so a period's whole hours are a range of a few
thousand rows; the hours its messages were changed in since the job's last run, and the
partial hours at a period's edges, are counted live. ``ix_messages_out_updated`` finds the
outbound messages written since (every write sets ``updated_at``); ``cohort_hours_stale``
names the hours retention took messages from. How far the job has counted is a row
(``cohort``) of ``response_turns_progress``; none: the cohort is counted live until the
job's first run.

Webhook processing (ovenai.kpis, ovenai.duration_buckets): the ``kpis.webhooks`` job keeps
each hour's log-spaced buckets of processing times in ``webhook_hours``
(ovenai.webhook_hours); ``ix_webhook_events_processed`` finds the bodies applied since its
last run, ``webhook_hours_stale`` the hours retention took bodies from; its progress is a
``webhooks`` row. Downgrading drops them all.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cohort_hours",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("template_name", sa.String(512), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_cohort_hours_hour", "cohort_hours", ["hour"])
    op.create_table(
        "cohort_hours_stale",
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "webhook_hours",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("least", sa.Float(), nullable=False),
        sa.Column("most", sa.Float(), nullable=False),
    )
    op.create_index("ix_webhook_hours_hour", "webhook_hours", ["hour"])
    op.create_table(
        "webhook_hours_stale",
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_webhook_events_processed",
        "webhook_events",
        ["processed_at"],
        postgresql_where=sa.text("processed_at IS NOT NULL"),
        sqlite_where=sa.text("processed_at IS NOT NULL"),
    )
    op.create_index(
        "ix_messages_out_updated",
        "messages",
        ["updated_at"],
        postgresql_where=sa.text("direction = 'out'"),
        sqlite_where=sa.text("direction = 'out'"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_events_processed", table_name="webhook_events")
    op.drop_table("webhook_hours_stale")
    op.drop_index("ix_webhook_hours_hour", table_name="webhook_hours")
    op.drop_table("webhook_hours")
    op.drop_index("ix_messages_out_updated", table_name="messages")
    op.drop_table("cohort_hours_stale")
    op.drop_index("ix_cohort_hours_hour", table_name="cohort_hours")
    op.drop_table("cohort_hours")
