"""messages.throttled_attempts: throttling answers in a row, for Meta's growing waits

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 09:00:00.000000

A throttled send (130429, 131056, ...) gives its attempt back, so ``attempts`` cannot say
how often Meta refused the message for a limit, and the backoff never grew (131056 waited
1 s each time instead of Meta's 4^X s). Upgrading adds the count with 0 for every message
stored before (a message waiting on a throttle then starts its waits from the first).
Downgrading drops it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("throttled_attempts", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("throttled_attempts")
