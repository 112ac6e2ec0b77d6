"""consent: each lead's lawful basis for marketing, and the do-not-contact list

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 10:00:00.000000

Consent (issue 17, items 1 and 2): ``leads.marketing_basis`` (``opt_in`` or
``inquiry_30a``; NULL: utility messages only), when and by which source it was set;
``do_not_contact`` holds the blind index of the phone of every erased lead who had opted
out (a keyed hash, nothing else), so an erased lead imported again is never messaged.
Leads that had opted in before (``opted_in_at`` set, not opted out) get ``opt_in`` as
their basis, with their ``opt_in_source``. Downgrading drops the columns and the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("marketing_basis", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("marketing_basis_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("marketing_basis_source", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE leads SET marketing_basis = 'opt_in', marketing_basis_at = opted_in_at, "
        "marketing_basis_source = SUBSTR(COALESCE(opt_in_source, 'agent'), 1, 32) "
        "WHERE opted_in_at IS NOT NULL AND erased_at IS NULL"
    )
    op.create_table(
        "do_not_contact",
        sa.Column("phone_index", sa.String(length=32), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone_index"),
    )


def downgrade() -> None:
    op.drop_table("do_not_contact")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("marketing_basis_source")
        batch.drop_column("marketing_basis_at")
        batch.drop_column("marketing_basis")
