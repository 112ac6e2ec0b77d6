"""throttle_counts: failed sign-ins and bearer tokens counted in one atomic step

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 01:15:00.000000

Until now sign-in and bearer-token throttling counted ``login_failed`` / ``token_failed``
entries of the audit log before checking, and recorded the failure afterwards, so a burst
of concurrent guesses all passed the check. Upgrading adds a small table of counters that
an attempt increments (and reads back) in one statement before it is checked. The audit
log keeps its entries; nothing is carried over, so failures from before the upgrade no
longer count (at most one 15-minute window of them). Downgrading drops the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "throttle_counts",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("throttle_counts")
