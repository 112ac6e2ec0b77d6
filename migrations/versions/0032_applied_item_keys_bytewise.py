"""applied_items.dedupe_key compared byte by byte (collation "C") on PostgreSQL

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 19:00:00.000000

An erasure forgets the lead's WhatsApp ids wherever they are kept in the clear
(ovenai.privacy), among them the dedupe keys of its messages' statuses and of its marketing
preferences, found by their start (``status:<wamid>:``, ``user_preference:<id>:``); the
worker's pruning of statuses that never found their message does the same
(ovenai.ingest.apply.delivery_statuses). PostgreSQL answers ``LIKE 'prefix%'`` from a
B-tree index only when the index's collation is "C": under the database's own (``C.UTF-8``,
``en_US.UTF-8``, ...) each of those deletes read the whole table, one key at a time, and an
erasure took as long as ``applied_items`` was large (about two rows a message: 10,000 rows
read per erased lead's statement at 10,000 leads, 2,000,000 at a million messages:
bench/README.md, "Growth with data").

The keys are machine-made ASCII (``message:<wamid>``, ``status:<wamid>:<status>``, ...):
compared byte by byte they are equal exactly when they were before, so nothing else
changes; the primary key's index is rebuilt in that order (during the upgrade the table is
locked while it is). SQLite is left as it is (its ``LIKE`` ignores case, and no index serves
it there either). Downgrading returns the column to the database's collation.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            'ALTER TABLE applied_items ALTER COLUMN dedupe_key TYPE VARCHAR(200) COLLATE "C"'
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            'ALTER TABLE applied_items ALTER COLUMN dedupe_key TYPE VARCHAR(200) COLLATE "default"'
        )
