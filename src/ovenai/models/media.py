"""Files leads send (images, documents, audio, video, stickers), fetched from Meta and kept;
and the files the agency sends (a listing's photos and brochure).

One row per inbound media message, made in the transaction that applies the message; the
worker's ``media.fetch`` job moves it from ``pending`` to ``stored`` (or ``failed`` /
``quarantined``). The bytes never live in the database: ``storage_key`` names the sealed
file in the media store (:mod:`ovenai.media_store`), ``thumbnail_key`` its sealed thumbnail.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ovenai.columns import UTCDateTime, new_id, utcnow
from ovenai.models.base import ID, Base, Timestamped


class MediaState(StrEnum):
    """Where a lead's file stands."""

    PENDING = "pending"  # waiting for (another) fetch
    FETCHING = "fetching"  # a worker holds it until claimed_until
    STORED = "stored"  # checked and kept, sealed under the lead's key
    FAILED = "failed"  # given up (7 days passed, refused by Meta, too large ...)
    QUARANTINED = "quarantined"  # bytes differ from what Meta declared: kept aside
    ERASED = "erased"  # the lead was erased: its files are deleted, then the row


class MediaFile(Timestamped, Base):
    """An inbound file of one message: Meta's declaration, our fetch and where it is kept."""

    __tablename__ = "media_files"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    media_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    declared_mime: Mapped[str | None] = mapped_column(String(255))
    declared_sha256: Mapped[str | None] = mapped_column(String(128))
    declared_size: Mapped[int | None] = mapped_column(BigInteger)
    # The document's file name as the lead's phone gave it: personal data, sealed.
    filename_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), default=MediaState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    error: Mapped[str | None] = mapped_column(Text)
    mime_type: Mapped[str | None] = mapped_column(String(255))
    stored_size: Mapped[int | None] = mapped_column(BigInteger)
    storage_key: Mapped[str | None] = mapped_column(String(255))
    thumbnail_key: Mapped[str | None] = mapped_column(String(255))
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resend_asked: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (Index("ix_media_files_due", "state", "next_attempt_at"),)


class RequestedDocument(Timestamped, Base):
    """A document a lead was asked for (``document_request_*``) and the file that answered it.

    ``name`` is one entry of the agency's list (``OVENAI_DOCUMENTS_HE``/``_EN``, or what the
    agent ticked), not the lead's data; which file answered it is the agent's marking. The
    rows go with the lead (erasure deletes them; the file's own row is erased apart).
    """

    __tablename__ = "requested_documents"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    media_file_id: Mapped[str | None] = mapped_column(
        ForeignKey("media_files.id", ondelete="SET NULL")
    )
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    marked_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (UniqueConstraint("lead_id", "name", name="uq_requested_documents_name"),)


class PropertyFileRole(StrEnum):
    """What a listing's file is for."""

    PHOTO = "photo"  # one of the gallery's photos, in ``position`` order
    BROCHURE = "brochure"  # the listing's PDF (one per listing)


class PropertyFile(Timestamped, Base):
    """A file of a listing the agency sends: a gallery photo or the brochure.

    The bytes are sealed in the media store under the listing's data key (scope
    ``property``); nothing in them is a lead's. ``meta_media_id`` is the id Meta gave the
    file's last upload, reused for every send until it is 30 days old (ovenai.property_files).
    """

    __tablename__ = "property_files"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    property_id: Mapped[str] = mapped_column(
        ForeignKey("properties.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    thumbnail_key: Mapped[str | None] = mapped_column(String(255))
    meta_media_id: Mapped[str | None] = mapped_column(String(128))
    meta_uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    added_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
