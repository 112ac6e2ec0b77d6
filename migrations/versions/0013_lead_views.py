"""lead_views and lead_phone_tokens: what the inbox keeps beside the leads

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 08:30:00.000000

Inbox (issue 16): ``lead_views`` records when each user last opened each lead, so the inbox
counts the inbound messages after it as unread; ``lead_phone_tokens`` holds blind indexes of
the leading and trailing digit runs of each lead's phone (never a digit in the clear), so a
part of a number finds its lead. The tokens are made by :mod:`ovenai.phone_search` when a
search needs them: upgrading writes none. Downgrading drops both tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lead_views",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("lead_id", sa.String(length=36), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "lead_id"),
    )
    op.create_table(
        "lead_phone_tokens",
        sa.Column("lead_id", sa.String(length=36), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("phone_index", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("lead_id", "token"),
    )
    op.create_index("ix_lead_phone_tokens_token", "lead_phone_tokens", ["token"])


def downgrade() -> None:
    op.drop_index("ix_lead_phone_tokens_token", table_name="lead_phone_tokens")
    op.drop_table("lead_phone_tokens")
    op.drop_table("lead_views")
