"""indexes for the retention job: what expired is found by index, not by reading every row

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 19:10:00.000000

The daily retention job (ovenai.retention) looks, a batch at a time, for the messages
created, the status events received and the applied items applied before their limits, and
for the leads closed longer than their grace ago and not yet erased. No index started with
those times, so each batch, and the last one that finds nothing left, read the whole table:
a run took as long as the tables were large (61 ms at 10,000 leads, 688 ms at 100,000,
bench/README.md "Growth with data"). Now each lookup is an index range over what expired.

The three tables are written in time order, so each new row's entry goes at the index's end.
``ix_leads_closed`` holds only the closed leads not yet erased. Downgrading drops them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLOSED = "closed_at IS NOT NULL AND erased_at IS NULL"


def upgrade() -> None:
    op.create_index("ix_messages_created", "messages", ["created_at"])
    op.create_index("ix_status_events_received", "status_events", ["received_at"])
    op.create_index("ix_applied_items_applied", "applied_items", ["applied_at"])
    op.create_index(
        "ix_leads_closed",
        "leads",
        ["closed_at"],
        postgresql_where=sa.text(CLOSED),
        sqlite_where=sa.text(CLOSED),
    )


def downgrade() -> None:
    op.drop_index("ix_leads_closed", table_name="leads")
    op.drop_index("ix_applied_items_applied", table_name="applied_items")
    op.drop_index("ix_status_events_received", table_name="status_events")
    op.drop_index("ix_messages_created", table_name="messages")
