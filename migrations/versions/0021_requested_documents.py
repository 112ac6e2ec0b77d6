"""requested_documents: the documents a lead was asked for, and the file that answered each

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 13:15:00.000000

One row per document a ``document_request_*`` asked a lead for (ovenai.document_checklist):
its name from the agency's list, when it was asked (and by which message), and the lead's
file an agent marked as that document. Deleting a lead deletes its rows; a deleted message,
file or user leaves the row with an empty reference. Downgrading drops the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "requested_documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "lead_id", sa.String(36), sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id", ondelete="SET NULL")),
        sa.Column(
            "media_file_id", sa.String(36), sa.ForeignKey("media_files.id", ondelete="SET NULL")
        ),
        sa.Column("received_at", sa.DateTime(timezone=True)),
        sa.Column("marked_by_id", sa.String(36), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("lead_id", "name", name="uq_requested_documents_name"),
    )


def downgrade() -> None:
    op.drop_table("requested_documents")
