"""campaigns: property-match campaigns and their recipients

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 13:00:00.000000

``campaigns`` (ovenai.campaigns): a listing's campaign, its template family, status
(draft, running, paused, cancelled, done), the criteria it matched with, who created it and
when it started, was paused and finished. ``campaign_recipients``: each matching lead, queued
(with its outbox message), excluded (with our reason, a code) or cancelled; ids and codes
only, no personal data. Deleting a campaign or a lead deletes its recipient rows; a deleted
message or listing leaves them with a null reference. Downgrading drops both tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "property_id", sa.String(36), sa.ForeignKey("properties.id", ondelete="SET NULL")
        ),
        sa.Column("template", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.String(36), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_by", sa.String(254), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("paused_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_campaigns_property_id", "campaigns", ["property_id"])
    op.create_table(
        "campaign_recipients",
        sa.Column(
            "campaign_id",
            sa.String(36),
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "lead_id",
            sa.String(36),
            sa.ForeignKey("leads.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_campaign_recipients_lead", "campaign_recipients", ["lead_id", "outcome"])
    op.create_index("ix_campaign_recipients_message", "campaign_recipients", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_campaign_recipients_message", table_name="campaign_recipients")
    op.drop_index("ix_campaign_recipients_lead", table_name="campaign_recipients")
    op.drop_table("campaign_recipients")
    op.drop_index("ix_campaigns_property_id", table_name="campaigns")
    op.drop_table("campaigns")
