"""media_files: the files leads send, fetched from Meta and kept sealed

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 10:30:00.000000

One row per inbound media message (ovenai.media): Meta's media id and declared MIME type,
SHA-256 and size, the fetch's state, attempts and next attempt, and where the sealed file
and thumbnail are kept. Messages and leads deleting cascade to their rows (the files
themselves are deleted by erasure and retention first). Downgrading drops the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_files",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "message_id",
            sa.String(36),
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column(
            "lead_id", sa.String(36), sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("media_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("declared_mime", sa.String(255)),
        sa.Column("declared_sha256", sa.String(128)),
        sa.Column("declared_size", sa.BigInteger()),
        sa.Column("filename_enc", sa.LargeBinary()),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("mime_type", sa.String(255)),
        sa.Column("stored_size", sa.BigInteger()),
        sa.Column("storage_key", sa.String(255)),
        sa.Column("thumbnail_key", sa.String(255)),
        sa.Column("stored_at", sa.DateTime(timezone=True)),
        sa.Column("resend_asked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_media_files_lead_id", "media_files", ["lead_id"])
    op.create_index("ix_media_files_due", "media_files", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_media_files_due", table_name="media_files")
    op.drop_index("ix_media_files_lead_id", table_name="media_files")
    op.drop_table("media_files")
