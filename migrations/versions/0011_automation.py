"""automation_rules, automation_firings; messages.rule_id

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 07:00:00.000000

Automation (issue 15): the rules an agency runs (seeded from ovenai/automation/
default_rules.yaml by ``ovenai db upgrade`` and the sandbox, never by this migration), the
log of what each did for which lead and event (once per rule, lead and event: a unique
index), and on each queued message the rule that queued it. Downgrading drops them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "automation_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "automation_firings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("rule_id", sa.String(length=36), nullable=False),
        sa.Column("lead_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=80), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["rule_id"], ["automation_rules.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_automation_firings_once",
        "automation_firings",
        ["rule_id", "lead_id", "event"],
        unique=True,
    )
    op.create_index("ix_automation_firings_rule", "automation_firings", ["rule_id", "at"])
    op.create_index("ix_automation_firings_lead", "automation_firings", ["lead_id", "at"])
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rule_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            "fk_messages_rule_id_automation_rules",
            "automation_rules",
            ["rule_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint("fk_messages_rule_id_automation_rules", type_="foreignkey")
        batch_op.drop_column("rule_id")
    op.drop_index("ix_automation_firings_lead", table_name="automation_firings")
    op.drop_index("ix_automation_firings_rule", table_name="automation_firings")
    op.drop_index("uq_automation_firings_once", table_name="automation_firings")
    op.drop_table("automation_firings")
    op.drop_table("automation_rules")
