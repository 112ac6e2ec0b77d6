"""property_files: a listing's gallery photos and brochure, and Meta's id for each upload

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 17:30:00.000000

One row per file of a listing the agency sends (ovenai.property_files): its role (photo or
brochure) and place in the gallery, name, type, size and SHA-256, where its sealed bytes and
thumbnail are kept in the media store, and the media id of its last upload to Meta with when
that was (an upload lasts 30 days). Deleting a listing deletes its rows; the worker's
``media.purge`` of the store is not needed for them because the service deletes the files
when it deletes a row. Downgrading drops the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "property_files",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "property_id",
            sa.String(36),
            sa.ForeignKey("properties.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("mime_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(255), nullable=False),
        sa.Column("thumbnail_key", sa.String(255)),
        sa.Column("meta_media_id", sa.String(128)),
        sa.Column("meta_uploaded_at", sa.DateTime(timezone=True)),
        sa.Column("added_by_id", sa.String(36), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_property_files_property_id", "property_files", ["property_id"])


def downgrade() -> None:
    op.drop_index("ix_property_files_property_id", table_name="property_files")
    op.drop_table("property_files")
