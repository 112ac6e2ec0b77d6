"""messages: an index of outbound failures by time, with their code and title

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 19:10:00.000000

Key figures (ovenai.kpis): the titles of a period's error codes are read from the outbound
messages that failed in it (``failed_at``), accepted or not. No index held those: the
planner, taking code and time for independent, expected a few hundred rows and read every
outbound message through ``ix_messages_out_updated`` (200-400 ms at a million messages,
whatever the period's length). ``ix_messages_out_failures`` holds only the failures
(``failed_at`` set), by time, with the code and title, so a period's are an index-only
range. Only a failure's write touches it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = "direction = 'outbound' AND failed_at IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_messages_out_failures",
        "messages",
        ["failed_at", "error_code", "error_title"],
        postgresql_where=sa.text(WHERE),
        sqlite_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_out_failures", table_name="messages")
