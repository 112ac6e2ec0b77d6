"""webhook_item_failures: the items of stored bodies that could not be read

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 00:30:00.000000

Until now an item of a webhook body that could not be read (a message without an id, a
status field of the wrong type...) was only logged. Upgrading adds a table that keeps, for
each such item of a processed body, where it was and why it failed (no content: the body
itself stays sealed in ``webhook_events``). Its rows go with their body (ON DELETE CASCADE),
so retention needs nothing new. Nothing is carried over: the items an older version could
not read show up once their bodies are processed again (``ovenai webhooks replay``).
Downgrading drops the table; the bodies and their status are untouched.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_item_failures",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("item", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["webhook_events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_item_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_item_failures_event_id"), ["event_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_item_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_item_failures_event_id"))
    op.drop_table("webhook_item_failures")
