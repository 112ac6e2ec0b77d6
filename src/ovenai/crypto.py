"""Envelope encryption, crypto-shredding and blind indexes for personal data.

Pure primitives: no database and no I/O besides ``os.urandom``. How the pieces fit::

    OVENAI_ENCRYPTION_KEYS --KeyRing.parse--> master keys (the newest wraps, any unwraps)
    master key --wrap(context=b"lead:<id>")--> WrappedKey, stored beside the lead
    data key   --encrypt(aad=aad(table, row, column))--> v1 blob, stored in the column
    index key  --blind_index(kind, value)--> hex digest, stored for equality lookups

Erasing a lead is deleting its WrappedKey: every blob under its data key becomes noise
(crypto-shredding). Rotating a master key is prepending a new one to the ring, then
``rewrap`` of each WrappedKey; the data blobs never change.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ovenai.errors import ConfigurationError, CryptoError

KEY_BYTES = 32

_SETTING = "OVENAI_ENCRYPTION_KEYS"
_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ENTRY_SEPARATORS = re.compile(r"[\s,]+")
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")
_VERSION = b"\x01"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_WRAPPED_BYTES = _NONCE_BYTES + KEY_BYTES + _TAG_BYTES
_AAD_LABEL = b"ovenai.aad.v1"
_BLIND_INDEX_LABEL = b"ovenai.blind-index.v1"
# 128 bits: a chance collision needs ~2**64 values of one kind, far beyond any agency, and
# a false match is settled by decrypting the candidate anyway. Shorter would shrink the
# index but invite collisions; longer buys nothing, since an attacker without the key can
# test no guess at all. Truncation hides nothing: equal values still give equal indexes.
_BLIND_INDEX_HEX_CHARS = 32
_MIN_PREFIX_CHARS = 2
_MAX_TOKEN_CHARS = 24
# Final letters fold to their regular form so that "דן" finds "דני" as "dan" finds "danny".
_HEBREW_FINALS = str.maketrans("ךםןףץ", "כמנפצ")
# Apostrophes and geresh join a word ("O'Brien", "ג'ורג'") instead of splitting it.
_DROP_APOSTROPHES = str.maketrans("", "", "'`\u2018\u2019\u02bc\u05f3\u05f4")
_APOSTROPHES = frozenset("'`\u2018\u2019\u02bc\u05f3\u05f4")


@dataclass(frozen=True)
class WrappedKey:
    """A data key encrypted (nonce + AES-256-GCM ciphertext and tag) under one master key."""

    key_id: str
    blob: bytes = field(repr=False)


class KeyRing:
    """Master keys from OVENAI_ENCRYPTION_KEYS: "id1:base64,id2:base64", newest first."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise _config_error("is empty; give at least one 'id:base64' entry")
        self._aeads: dict[str, AESGCM] = {}
        for position, (key_id, key) in enumerate(keys, start=1):
            _check_entry(position, key_id, key, seen=self._aeads)
            self._aeads[key_id] = AESGCM(key)
        self._ids = tuple(self._aeads)

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """Build the ring from "id:base64" entries separated by commas and/or whitespace."""
        entries = [entry for entry in _ENTRY_SEPARATORS.split(spec) if entry]
        return cls([_decode_entry(position, entry) for position, entry in enumerate(entries, 1)])

    @property
    def newest_id(self) -> str:
        """Id of the master key that wraps new data keys."""
        return self._ids[0]

    @property
    def ids(self) -> tuple[str, ...]:
        """Ids of every master key, newest first."""
        return self._ids

    def wrap(self, data_key: bytes, *, context: bytes) -> WrappedKey:
        """Encrypt a data key under the newest master key, bound to its context."""
        _check_key_size(data_key, doing="wrap")
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aeads[self.newest_id].encrypt(nonce, data_key, context)
        return WrappedKey(key_id=self.newest_id, blob=nonce + sealed)

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        """Decrypt a data key with whichever master key wrapped it."""
        aead = self._aeads.get(wrapped.key_id)
        if aead is None:
            raise CryptoError(
                f"failed to decrypt a data key: master key {wrapped.key_id!r} is not in the "
                f"ring {self._ids!r} (removed too early, or another environment's data)"
            )
        if len(wrapped.blob) != _WRAPPED_BYTES:
            raise CryptoError(f"failed to decrypt a data key of master key {wrapped.key_id!r}")
        try:
            return aead.decrypt(wrapped.blob[:_NONCE_BYTES], wrapped.blob[_NONCE_BYTES:], context)
        except InvalidTag:
            raise CryptoError(
                f"failed to decrypt a data key of master key {wrapped.key_id!r}: "
                "tampered, moved to another context, or the key under this id changed"
            ) from None

    def rewrap(self, wrapped: WrappedKey, *, context: bytes) -> WrappedKey:
        """Move a wrapped data key to the newest master key (unchanged if already there)."""
        if wrapped.key_id == self.newest_id:
            return wrapped
        return self.wrap(self.unwrap(wrapped, context=context), context=context)

    def __repr__(self) -> str:
        return f"KeyRing(ids={self._ids!r})"


def _config_error(problem: str) -> ConfigurationError:
    return ConfigurationError(f"{_SETTING} {problem}", field=_SETTING)


def _decode_entry(position: int, entry: str) -> tuple[str, bytes]:
    key_id, colon, material = entry.partition(":")
    if not colon:
        raise _config_error(f"entry {position} is not of the form 'id:base64'")
    key = _decode_base64(material)
    if key is None:
        raise _config_error(f"{_entry_label(position, key_id)}: the key is not valid base64")
    return key_id, key


def _check_entry(position: int, key_id: str, key: bytes, *, seen: Container[str]) -> None:
    label = _entry_label(position, key_id)
    if not _ID_PATTERN.fullmatch(key_id):
        raise _config_error(f"{label}: the id must be 1-64 of A-Z a-z 0-9 _ . -")
    if key_id in seen:
        raise _config_error(f"{label}: the id appears more than once")
    if len(key) != KEY_BYTES:
        raise _config_error(f"{label}: the key must be {KEY_BYTES} bytes, not {len(key)}")


def _entry_label(position: int, key_id: str) -> str:
    """Name an entry by position, and by id unless the id is invalid or could be a key."""
    key_like = _decode_base64(key_id)
    if _ID_PATTERN.fullmatch(key_id) and (key_like is None or len(key_like) != KEY_BYTES):
        return f"entry {position} (id {key_id!r})"
    return f"entry {position}"


def _decode_base64(text: str) -> bytes | None:
    """Decode standard or urlsafe base64, padded or not; None when it is not base64."""
    standard = text.translate(_URLSAFE_TO_STANDARD)
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except ValueError:
        return None


def _check_key_size(key: bytes, *, doing: str) -> None:
    if len(key) != KEY_BYTES:
        raise CryptoError(
            f"failed to {doing}: a data key must be {KEY_BYTES} bytes, not {len(key)}"
        )


def generate_master_key(*, key_id: str | None = None) -> str:
    """Return one ring entry "id:base64" holding 32 fresh random bytes."""
    chosen = key_id if key_id is not None else _default_key_id()
    if not _ID_PATTERN.fullmatch(chosen):
        raise _config_error(f"key id {chosen!r} must be 1-64 of A-Z a-z 0-9 _ . -")
    return f"{chosen}:{base64.b64encode(os.urandom(KEY_BYTES)).decode('ascii')}"


def _default_key_id() -> str:
    return f"k{datetime.now(UTC):%Y%m%d}-{os.urandom(3).hex()}"


def new_data_key() -> bytes:
    """Return a fresh random 32-byte data key."""
    return os.urandom(KEY_BYTES)


def aad(table: str, row_id: str, column: str) -> bytes:
    """Bind a value to its table, row and column as length-prefixed UTF-8 parts."""
    return aad_head(table) + aad_part(row_id) + aad_part(column)


def aad_head(table: str) -> bytes:
    """The start of every AAD of one table; ``aad_head(t) + aad_part(row) + aad_part(col)``."""
    return _AAD_LABEL + aad_part(table)


def aad_part(value: str) -> bytes:
    """One length-prefixed UTF-8 part of an AAD (a table, row id or column name)."""
    if not value:
        raise ValueError("aad needs a non-empty table, row id and column")
    return _length_prefixed(value.encode())


def _length_prefixed(part: bytes) -> bytes:
    return len(part).to_bytes(4, "big") + part


class KeyCipher:
    """AES-256-GCM under one data key, its key schedule made once: for the several values
    sealed or opened under one key together (the columns of a row, a lead's message and
    name). :func:`encrypt` and :func:`decrypt` take one, or a key's bytes (then made anew)."""

    __slots__ = ("_aead",)

    def __init__(self, data_key: bytes) -> None:
        _check_key_size(data_key, doing="make a cipher")
        self._aead = AESGCM(data_key)

    def encrypt(self, plaintext: bytes, *, aad: bytes) -> bytes:
        """Version byte 0x01 + a fresh 12-byte nonce + ciphertext and tag."""
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, *, aad: bytes) -> bytes:
        """A blob of :meth:`encrypt` opened; any mismatch or tampering raises CryptoError."""
        if len(blob) < len(_VERSION) + _NONCE_BYTES + _TAG_BYTES:
            raise CryptoError(f"failed to decrypt: {len(blob)} bytes is too short for a value")
        if blob[:1] != _VERSION:
            raise CryptoError(f"failed to decrypt: unknown format version {blob[0]}")
        nonce, sealed = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise CryptoError(
                "failed to decrypt: wrong data key, value moved to another row or column, "
                "or tampered"
            ) from None


def key_cipher(data_key: bytes | KeyCipher, *, doing: str) -> KeyCipher:
    """The cipher of a data key: the one given, or one made of the key's bytes (CryptoError
    naming what was being done when the key is not 32 bytes)."""
    if isinstance(data_key, KeyCipher):
        return data_key
    _check_key_size(data_key, doing=doing)
    return KeyCipher(data_key)


def encrypt(data_key: bytes | KeyCipher, plaintext: bytes, *, aad: bytes) -> bytes:
    """Encrypt with AES-256-GCM as version byte 0x01 + fresh 12-byte nonce + ciphertext+tag."""
    return key_cipher(data_key, doing="encrypt").encrypt(plaintext, aad=aad)


def decrypt(data_key: bytes | KeyCipher, blob: bytes, *, aad: bytes) -> bytes:
    """Decrypt a blob from ``encrypt``; any mismatch or tampering raises CryptoError."""
    return key_cipher(data_key, doing="decrypt").decrypt(blob, aad=aad)


def encrypt_text(data_key: bytes | KeyCipher, text: str | None, *, aad: bytes) -> bytes | None:
    """Encrypt text as UTF-8; None stays None."""
    return None if text is None else encrypt(data_key, text.encode(), aad=aad)


def decrypt_text(data_key: bytes | KeyCipher, blob: bytes | None, *, aad: bytes) -> str | None:
    """Decrypt a blob from ``encrypt_text``; None stays None."""
    if blob is None:
        return None
    try:
        return decrypt(data_key, blob, aad=aad).decode()
    except UnicodeDecodeError:
        raise CryptoError("failed to decrypt text: the plaintext is not UTF-8") from None


def blind_index(index_key: bytes, kind: str, value: str) -> str:
    """Keyed HMAC-SHA256 of an already normalised value, separated by kind, as 32 hex chars."""
    if len(index_key) < KEY_BYTES:
        raise ConfigurationError(f"the blind index key must be at least {KEY_BYTES} bytes")
    if not kind:
        raise ValueError("blind_index needs a kind, such as 'phone'")
    message = _BLIND_INDEX_LABEL + _length_prefixed(kind.encode()) + value.encode()
    return hmac.new(index_key, message, hashlib.sha256).hexdigest()[:_BLIND_INDEX_HEX_CHARS]


def name_tokens(name: str) -> list[str]:
    """Return every prefix (2 to 24 chars; a one-letter word itself) of each word of a name."""
    tokens = (token for word in _words(name) for token in _prefixes(word))
    return list(dict.fromkeys(tokens))


def search_tokens(query: str) -> list[str]:
    """Return the normalised words of a query, each cut to 24 chars, to match name tokens."""
    return list(dict.fromkeys(word[:_MAX_TOKEN_CHARS] for word in _words(query)))


def _prefixes(word: str) -> list[str]:
    if len(word) == 1:
        return [word]
    longest = min(len(word), _MAX_TOKEN_CHARS)
    return [word[:length] for length in range(_MIN_PREFIX_CHARS, longest + 1)]


def _words(text: str) -> list[str]:
    """Split normalised text on anything but letters, digits, marks and apostrophes."""
    normalised = _normalise(text)
    spaced = "".join(ch if _is_word_char(ch) else " " for ch in normalised)
    words = (chunk.translate(_DROP_APOSTROPHES) for chunk in spaced.split())
    return [word for word in words if word]


def _normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not _is_ignorable(ch)).translate(_HEBREW_FINALS)


def _is_ignorable(ch: str) -> bool:
    """Hebrew points and cantillation (maqaf and other punctuation stay), bidi/format marks."""
    category = unicodedata.category(ch)
    return category == "Cf" or ("\u0591" <= ch <= "\u05c7" and category == "Mn")


def _is_word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LNM" or ch in _APOSTROPHES
