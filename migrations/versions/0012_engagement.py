"""score_changes: the engagement score's history

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 08:00:00.000000

Engagement (issue 15): every change of a lead's engagement score, with its reason, the
change applied and the score after it, so the lead page can say why a lead has its score.
Upgrading adds the table with one ``set`` change for each lead whose score is not 0 (a
score written through the API before), so every lead's history adds up to its score from
the start. Downgrading drops the table; the scores stay on the leads.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ovenai.columns import new_id

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Untyped time column: copied as the driver gives it, in the stored form.
_leads = sa.table(
    "leads",
    sa.column("id", sa.String),
    sa.column("engagement_score", sa.Integer),
    sa.column("updated_at"),
)
_changes = sa.table(
    "score_changes",
    sa.column("id", sa.String),
    sa.column("lead_id", sa.String),
    sa.column("at"),
    sa.column("delta", sa.Integer),
    sa.column("score", sa.Integer),
    sa.column("reason", sa.String),
    sa.column("source", sa.String),
)


def upgrade() -> None:
    op.create_table(
        "score_changes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("lead_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_score_changes_lead_at", "score_changes", ["lead_id", "at"])
    _record_scores_set_before(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_score_changes_lead_at", table_name="score_changes")
    op.drop_table("score_changes")


def _record_scores_set_before(bind: sa.Connection) -> None:
    """A ``set`` change (source ``migration``) for each lead whose score is not 0."""
    score = _leads.c.engagement_score
    found = bind.execute(sa.select(_leads.c.id, score, _leads.c.updated_at).where(score != 0))
    rows = [
        {"id": new_id(), "lead_id": lead_id, "at": at, "delta": value, "score": value}
        | {"reason": "set", "source": "migration"}
        for lead_id, value, at in found
    ]
    if rows:
        bind.execute(_changes.insert(), rows)
