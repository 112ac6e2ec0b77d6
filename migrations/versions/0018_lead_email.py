"""leads.email: a lead's e-mail address, sealed, with a blind index to find it by

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 13:00:00.000000

Agencies' spreadsheets carry an e-mail column (issue 20). Upgrading adds ``email_enc`` (the
address sealed under the lead's data key, like the phone) and ``email_index`` (a keyed blind
index of the address case-folded, not unique: a couple may share one), so a lead is found by
its exact address without decrypting every lead. Downgrading drops both (the addresses with
them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("email_index", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_leads_email_index", ["email_index"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_email_index")
        batch_op.drop_column("email_index")
        batch_op.drop_column("email_enc")
