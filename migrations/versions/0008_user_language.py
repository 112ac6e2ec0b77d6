"""users.language: the dashboard's language of each user

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 09:00:00.000000

The dashboard speaks Hebrew and English; each user chooses on /account. Upgrading adds the
column with Hebrew (the default language) for every user stored before. Downgrading drops it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), nullable=False, server_default="he")
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("language")
