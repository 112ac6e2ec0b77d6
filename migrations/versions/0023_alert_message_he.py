"""alerts.message_he: an alert's message in Hebrew beside the English one

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 18:00:00.000000

The alert rules (ovenai.alert_rules) write each message in both languages; notifications and
the alerts page show the reader's (an alert raised before, or by a part of the product that
writes English only, has none and shows the English). Downgrading drops the column.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("message_he", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("message_he")
