"""leads.username_index: a lead found by its WhatsApp username

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 04:00:00.000000

Data-subject requests name a person by any identity OvenAI stores, a username among them;
usernames were stored sealed only, so nothing could find one without decrypting every lead.
Upgrading adds a keyed blind index of the username (not unique: WhatsApp lets a username
pass to another user once given up), written with every username from now on. Usernames
stored before the upgrade cannot be indexed here (the index key lives in the key store,
which migrations never open): the first look-up by username indexes them
(``ovenai.privacy``). Downgrading drops the column and its index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("username_index", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_leads_username_index", ["username_index"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_username_index")
        batch_op.drop_column("username_index")
