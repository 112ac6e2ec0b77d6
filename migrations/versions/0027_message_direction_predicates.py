"""messages: the key figures' partial indexes name the directions the product writes

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 09:10:00.000000

The product writes a message's direction as ``inbound`` or ``outbound``
(``ovenai.models.Direction``), but the key figures, two alerts, retention's outcome hours
and the partial indexes of 0016 and 0026 compared it with ``in`` and ``out``: on real data
the indexes held no row and the figures counted nothing. The code now compares with the
enum; this recreates the four indexes with the right predicates and empties what the
worker's ``kpis.turns`` and ``kpis.cohort`` jobs had kept from the wrong comparison (their
progress rows too), so their next run counts every lead and hour again, the figures being
counted live meanwhile. Downgrading puts the old predicates back (the kept rows are
counted again either way).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# name: (columns, predicate of its direction, anything else the predicate says)
INDEXES = {
    "ix_messages_out_outcome": (["sent_at", "status", "template_name", "error_code"], "out", ""),
    "ix_messages_out_failed": (["failed_at"], "out", " AND sent_at IS NULL"),
    "ix_messages_out_updated": (["updated_at"], "out", ""),
    "ix_messages_in_created": (["created_at", "lead_id"], "in", ""),
}
WRITTEN = {"out": "outbound", "in": "inbound"}
RECOUNTED = (  # emptied here; the worker's jobs count them again (tests read this name)
    "response_turns",
    "reply_marks",
    "response_turns_stale",
    "response_turns_progress",
    "cohort_hours",
    "cohort_hours_stale",
)


def _recreate(spelled: dict[str, str]) -> None:
    for name, (columns, direction, rest) in INDEXES.items():
        op.drop_index(name, table_name="messages")
        where = sa.text(f"direction = '{spelled[direction]}'{rest}")
        op.create_index(name, "messages", columns, postgresql_where=where, sqlite_where=where)


def upgrade() -> None:
    _recreate(WRITTEN)
    for table in RECOUNTED:
        op.execute(sa.text(f"DELETE FROM {table}"))


def downgrade() -> None:
    _recreate({"out": "out", "in": "in"})
