"""messages.idempotency_body: the body an Idempotency-Key was first used with

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 13:00:00.000000

A send through the API with an ``Idempotency-Key`` keeps the SHA-256 of its request (as
parsed, keys sorted) beside the key, so the same key with another body is refused (422, as
the IETF Idempotency-Key draft says) instead of answering the first send. Rows queued
before, or without an API key, keep NULL and are compared with nothing. Downgrading drops
the column.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_body", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("idempotency_body")
