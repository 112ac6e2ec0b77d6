"""messages: the indexes the key figures read

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 10:05:00.000000

Key figures (ovenai.kpis): a period's outbound outcomes come from
``ix_messages_out_outcome`` alone (accepted time, status, template, error code; outbound
only), failures never accepted from ``ix_messages_out_failed``, inbound messages by time
from ``ix_messages_in_created``. Partial indexes (both databases support them), so the
outbox and inbound writes pay only for the rows they concern. Downgrading drops them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUT = sa.text("direction = 'out'")
NEVER_ACCEPTED = sa.text("direction = 'out' AND sent_at IS NULL")
IN = sa.text("direction = 'in'")


def upgrade() -> None:
    op.create_index(
        "ix_messages_out_outcome",
        "messages",
        ["sent_at", "status", "template_name", "error_code"],
        postgresql_where=OUT,
        sqlite_where=OUT,
    )
    op.create_index(
        "ix_messages_out_failed",
        "messages",
        ["failed_at"],
        postgresql_where=NEVER_ACCEPTED,
        sqlite_where=NEVER_ACCEPTED,
    )
    op.create_index(
        "ix_messages_in_created",
        "messages",
        ["created_at", "lead_id"],
        postgresql_where=IN,
        sqlite_where=IN,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_in_created", table_name="messages")
    op.drop_index("ix_messages_out_failed", table_name="messages")
    op.drop_index("ix_messages_out_outcome", table_name="messages")
