"""What the fetch job holds a file's bytes to: Meta's type, by the bytes' signature, and
Meta's SHA-256 in either of the forms Meta writes it."""

from __future__ import annotations

import base64
import hashlib

import pytest

from media.conftest import PDF, jpeg_bytes
from ovenai.file_types import make_thumbnail, mime_fits
from ovenai.media_fetch import sha256_matches


@pytest.mark.parametrize(
    ("declared", "head", "fits"),
    [
        ("image/jpeg", b"\xff\xd8\xff\xe0", True),
        ("application/pdf", b"%PDF-1.7", True),
        ("application/pdf", b"\xff\xd8\xff\xe0", False),
        ("image/png", b"%PDF-1.7", False),
        ("audio/ogg; codecs=opus", b"OggS\x00\x02", True),
        ("video/mp4", b"\x00\x00\x00\x18ftypmp42", True),
        ("image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", True),
        ("text/plain", b"hello, a note", True),
        ("application/pdf", b"hello, not a pdf", False),
        ("application/octet-stream", b"%PDF-1.7", True),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            b"PK\x03\x04",
            True,
        ),
    ],
)
def test_the_bytes_must_fit_the_declared_type(declared: str, head: bytes, fits: bool) -> None:
    assert mime_fits(declared, head) is fits


def test_meta_s_sha256_is_read_as_hex_or_base64() -> None:
    digest = hashlib.sha256(PDF).digest()
    assert sha256_matches(digest.hex(), digest)
    assert sha256_matches(digest.hex().upper(), digest)
    assert sha256_matches(base64.b64encode(digest).decode(), digest)
    assert sha256_matches(base64.urlsafe_b64encode(digest).decode().rstrip("="), digest)
    assert not sha256_matches(hashlib.sha256(b"other").hexdigest(), digest)


def test_a_thumbnail_is_a_small_jpeg_and_unreadable_bytes_get_none() -> None:
    thumbnail = make_thumbnail(jpeg_bytes((2000, 1000)))
    assert thumbnail is not None and thumbnail.startswith(b"\xff\xd8\xff")
    assert make_thumbnail(b"\xff\xd8\xff not really a jpeg") is None
