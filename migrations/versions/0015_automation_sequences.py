"""automation_enrolments, notifications

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 10:00:00.000000

Automation (issue 15, items 1 and 5): the leads enrolled in follow-up sequences (which step
is next and when, why each stopped), and the in-app notifications of the agents (the
``notify_agent`` action), with the state of their e-mail. Downgrading drops both.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "automation_enrolments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("rule_id", sa.String(length=36), nullable=False),
        sa.Column("lead_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=80), nullable=False),
        sa.Column("stage", sa.String(length=24), nullable=False),
        sa.Column("next_step", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rule_id"], ["automation_rules.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_automation_enrolments_once",
        "automation_enrolments",
        ["rule_id", "lead_id", "event"],
        unique=True,
    )
    op.create_index(
        "ix_automation_enrolments_due", "automation_enrolments", ["stopped_at", "due_at"]
    )
    op.create_index(
        "ix_automation_enrolments_lead", "automation_enrolments", ["lead_id", "started_at"]
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("lead_id", sa.String(length=36), nullable=True),
        sa.Column("rule_id", sa.String(length=36), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_state", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rule_id"], ["automation_rules.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notifications_user", "notifications", ["user_id", "read_at", "created_at"])
    op.create_index("ix_notifications_email", "notifications", ["email_state", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_email", table_name="notifications")
    op.drop_index("ix_notifications_user", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_automation_enrolments_lead", table_name="automation_enrolments")
    op.drop_index("ix_automation_enrolments_due", table_name="automation_enrolments")
    op.drop_index("uq_automation_enrolments_once", table_name="automation_enrolments")
    op.drop_table("automation_enrolments")
