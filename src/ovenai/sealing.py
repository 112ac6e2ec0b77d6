"""Sealing personal data at rest: every sealed table, its sealed columns and how to open them.

A sealed column ``<column>_enc`` holds AES-256-GCM ciphertext (:func:`ovenai.crypto.encrypt`)
whose AAD binds it to its table, row id and column, so a value copied to another row or
column never opens. Each table with sealed columns is declared here once, as a
:class:`SealedTable` of its SQLAlchemy model and a ``Literal`` of its column names: mypy
refuses a misspelt column, the declaration is checked against the model when this module
is imported, and every seal or open checks the column again at run time.

Everything but the webhook bodies is sealed under the lead's data key (key store scope
``lead``, id = the lead's id); a webhook body under the key of the hour it arrived in
(scope ``webhook``, see :mod:`ovenai.ingest.receive.hour_keys`). No other module builds a cipher.

Names are searched through blind indexes of their word prefixes: :func:`name_index` and
:func:`search_index` (the normalisation lives in :mod:`ovenai.crypto`); usernames through
:func:`username_index`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar, get_args

from ovenai import crypto
from ovenai.crypto import KeyCipher as KeyCipher
from ovenai.keystore import Vault
from ovenai.models import ConsentEvent, Lead, MediaFile, Meeting, Message, WebhookEvent

NAME_TOKEN = "name_token"
USERNAME = "username"
_STORED_SUFFIX = "_enc"


class SealedRow(Protocol):
    """A model with sealed columns: each has a string primary key ``id``."""

    __tablename__: Any
    __table__: ClassVar[Any]

    @property
    def id(self) -> str:
        """The row's id, part of each sealed value's AAD."""
        ...


ModelT = TypeVar("ModelT", bound=SealedRow)
ColumnT = TypeVar("ColumnT", bound=str)


@dataclass(frozen=True, slots=True)
class RowCipher(Generic[ColumnT]):
    """Seals and opens the sealed columns of one row (ORM object or Core result row)."""

    table: SealedTable[Any, ColumnT]
    row_id: str
    key: KeyCipher = field(repr=False)  # the lead's (or hour's) key, its cipher made once
    aad_prefix: bytes = field(repr=False)  # the AAD up to the row id, built once per row

    def seal(self, column: ColumnT, text: str | None) -> bytes | None:
        """Encrypt a column value bound to this row and column; None stays None."""
        return crypto.encrypt_text(self.key, text, aad=self.aad_prefix + self._tail(column))

    def open(self, column: ColumnT, blob: bytes | None) -> str | None:
        """Decrypt a column value; CryptoError if it was tampered, moved or its key changed."""
        tail = self._tail(column)
        if blob is None:  # nothing sealed: skip the AAD (the outbox opens thousands a second)
            return None
        return crypto.decrypt_text(self.key, blob, aad=self.aad_prefix + tail)

    def seal_bytes(self, column: ColumnT, data: bytes) -> bytes:
        """Encrypt raw bytes (a webhook body) bound to this row and column."""
        return crypto.encrypt(self.key, data, aad=self.aad_prefix + self._tail(column))

    def open_bytes(self, column: ColumnT, blob: bytes) -> bytes:
        """Decrypt raw bytes sealed by :meth:`seal_bytes`."""
        return crypto.decrypt(self.key, blob, aad=self.aad_prefix + self._tail(column))

    def _tail(self, column: str) -> bytes:
        tail = self.table.aad_tails.get(column)
        if tail is None:
            raise ValueError(f"{self.table.name} has no sealed column {column!r}")
        return tail


@dataclass(frozen=True)
class SealedTable(Generic[ModelT, ColumnT]):
    """One table's sealed columns (each stored as ``<column>_enc``) and its key scope."""

    model: type[ModelT]
    columns: tuple[ColumnT, ...]
    key_scope: str
    name: str = field(init=False)
    stored: Mapping[str, str] = field(init=False, repr=False)  # column -> model attribute
    aad_head: bytes = field(init=False, repr=False)
    aad_tails: Mapping[str, bytes] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        name = str(self.model.__tablename__)
        _check_declared(name, self.model, self.columns)
        # Derived once here, so a seal or open only joins bytes already made.
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "stored", {c: c + _STORED_SUFFIX for c in self.columns})
        object.__setattr__(self, "aad_head", crypto.aad_head(name))
        object.__setattr__(self, "aad_tails", {c: crypto.aad_part(c) for c in self.columns})

    def cipher(self, key: bytes | KeyCipher, row_id: str) -> RowCipher[ColumnT]:
        """A cipher bound to one row, for Core rows or several columns of one row. Given a
        :class:`KeyCipher` (:func:`key_cipher`), rows sealed under one key share it."""
        cipher = crypto.key_cipher(key, doing="seal or open")
        return RowCipher(self, row_id, cipher, self.aad_head + crypto.aad_part(row_id))

    def seal_into(self, row: ModelT, key: bytes, values: Mapping[ColumnT, str | None]) -> None:
        """Seal the given values into their ``<column>_enc`` attributes of an ORM row."""
        for stored, blob in self.sealed(key, row.id, values).items():
            setattr(row, stored, blob)

    def sealed(
        self, key: bytes | KeyCipher, row_id: str, values: Mapping[ColumnT, str | None]
    ) -> dict[str, bytes | None]:
        """The given values sealed for one row, by stored column name (``<column>_enc``).

        For Core INSERTs and UPDATEs of many rows, where no ORM object is built.
        """
        cipher = self.cipher(key, row_id)
        return {self._stored_name(c): cipher.seal(c, text) for c, text in values.items()}

    def open_from(self, row: ModelT, key: bytes, column: ColumnT) -> str | None:
        """Decrypt one sealed column of an ORM row."""
        return self.cipher(key, row.id).open(column, getattr(row, self._stored_name(column)))

    def open_all(self, row: ModelT, key: bytes) -> dict[str, str | None]:
        """Decrypt every sealed column of an ORM row, by column name."""
        cipher = self.cipher(key, row.id)
        return {c: cipher.open(c, getattr(row, self.stored[c])) for c in self.columns}

    def blanks(self) -> dict[str, None]:
        """Every sealed column set to None, as ``values()`` of an UPDATE (erasure)."""
        return dict.fromkeys(self.stored.values())

    def _stored_name(self, column: str) -> str:
        stored = self.stored.get(column)
        if stored is None:
            raise ValueError(f"{self.name} has no sealed column {column!r}")
        return stored


def key_cipher(key: bytes) -> KeyCipher:
    """A data key's cipher, made once for the values of several rows sealed under it (a
    lead's name opened and its message sealed): :meth:`SealedTable.cipher` takes it."""
    return crypto.key_cipher(key, doing="seal or open")


def _check_declared(name: str, model: type[SealedRow], columns: tuple[str, ...]) -> None:
    """Refuse a declaration that differs from the model's ``*_enc`` columns either way."""
    on_model = {c.name for c in model.__table__.columns if c.name.endswith(_STORED_SUFFIX)}
    declared = {c + _STORED_SUFFIX for c in columns}
    if not columns or len(declared) != len(columns) or declared != on_model:
        raise TypeError(
            f"{name}: declared sealed columns {sorted(declared)} "
            f"differ from the model's {sorted(on_model)}"
        )


LeadColumn = Literal[
    "name", "phone", "bsuid", "wa_id", "username", "profile_name", "notes", "email"
]
MessageColumn = Literal["text", "payload", "template_params"]
MeetingColumn = Literal["notes"]
ConsentColumn = Literal["evidence"]
WebhookColumn = Literal["body"]
MediaColumn = Literal["filename"]

LEADS = SealedTable[Lead, LeadColumn](Lead, get_args(LeadColumn), key_scope="lead")
MESSAGES = SealedTable[Message, MessageColumn](Message, get_args(MessageColumn), key_scope="lead")
MEETINGS = SealedTable[Meeting, MeetingColumn](Meeting, get_args(MeetingColumn), key_scope="lead")
CONSENT_EVENTS = SealedTable[ConsentEvent, ConsentColumn](
    ConsentEvent, get_args(ConsentColumn), key_scope="lead"
)
MEDIA_FILES = SealedTable[MediaFile, MediaColumn](
    MediaFile, get_args(MediaColumn), key_scope="lead"
)
# Raw bodies are sealed under their hour's key (id YYYYMMDDHH), not a lead's: one body may
# concern several leads, and erasure re-keys the hour instead (see ovenai.privacy).
WEBHOOK_EVENTS = SealedTable[WebhookEvent, WebhookColumn](
    WebhookEvent, get_args(WebhookColumn), key_scope="webhook"
)

# Every table with sealed columns (the tests check that no model's `_enc` column is missing).
SEALED_TABLES: tuple[SealedTable[Any, Any], ...] = (
    LEADS,
    MESSAGES,
    MEETINGS,
    CONSENT_EVENTS,
    WEBHOOK_EVENTS,
    MEDIA_FILES,
)


def seal_file_chunk(
    key: bytes, media_row_id: str, stream: str, index: int, last: bool, data: bytes
) -> bytes:
    """Encrypt one chunk of a lead's file (``stream``: "content" or "thumbnail").

    The AAD binds the chunk to its media row, its stream, its place and whether it is the
    last one: chunks swapped, reordered, moved to another file or cut off never open.
    """
    return crypto.encrypt(key, data, aad=_chunk_aad(media_row_id, stream, index, last))


def open_file_chunk(
    key: bytes, media_row_id: str, stream: str, index: int, last: bool, blob: bytes
) -> bytes:
    """Decrypt a chunk sealed by :func:`seal_file_chunk`; CryptoError on any mismatch."""
    return crypto.decrypt(key, blob, aad=_chunk_aad(media_row_id, stream, index, last))


UPLOADS = "import_upload"  # key store scope (16 characters at most) and AAD of uploads


def seal_upload(key: bytes, upload_id: str, data: bytes) -> bytes:
    """Encrypt a spreadsheet uploaded for import, kept until it is confirmed (scope
    :data:`UPLOADS`, one key per upload, destroyed with it: :mod:`ovenai.import_uploads`)."""
    return crypto.encrypt(key, data, aad=crypto.aad_head(UPLOADS) + crypto.aad_part(upload_id))


def open_upload(key: bytes, upload_id: str, blob: bytes) -> bytes:
    """Decrypt an upload sealed by :func:`seal_upload`; CryptoError on any mismatch."""
    return crypto.decrypt(key, blob, aad=crypto.aad_head(UPLOADS) + crypto.aad_part(upload_id))


def _chunk_aad(media_row_id: str, stream: str, index: int, last: bool) -> bytes:
    head = MEDIA_FILES.aad_head + crypto.aad_part(media_row_id) + crypto.aad_part(stream)
    return head + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


def name_index(vault: Vault, name: str | None) -> set[str]:
    """The blind indexes stored for a name: one per word prefix (see crypto.name_tokens)."""
    return {vault.index(NAME_TOKEN, token) for token in crypto.name_tokens(name or "")}


def search_index(vault: Vault, query: str) -> set[str]:
    """The blind indexes a name search must all find: one per word of the query."""
    return {vault.index(NAME_TOKEN, token) for token in crypto.search_tokens(query)}


def username_index(vault: Vault, username: str) -> str:
    """The blind index of a WhatsApp username, without a leading ``@`` and case-folded.

    The sealed column keeps the username as WhatsApp sent it; the index is of the form people
    type (``@Maya.TLV`` finds ``maya.tlv``), so the writer and every look-up must both use this.
    """
    return vault.index(USERNAME, username.strip().removeprefix("@").casefold())
