"""What a file is by its bytes, and its thumbnail.

Files come from leads (fetched from Meta, :mod:`ovenai.media_fetch`) and from the agency (a
listing's photos and brochure, :mod:`ovenai.property_files`); either way the type is read
from the file's signature, never taken from its name or a sender's word alone, and a photo's
thumbnail is made here on the server, so a browser never gets the original for it.
"""

from __future__ import annotations

import io

THUMBNAIL_PX = 320


def make_thumbnail(data: bytes) -> bytes | None:
    """A JPEG of at most 320 px a side, made here (the original never goes to a browser for
    it); None when the image cannot be read."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))  # a JPEG decodes at 1/2..1/8
            image = ImageOps.exif_transpose(opened)
            image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=80)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


# The signatures of the types leads send, and the declared types each may be.
_SIGNATURES: tuple[tuple[bytes, int, frozenset[str]], ...] = (
    (b"\xff\xd8\xff", 0, frozenset({"image/jpeg", "image/jpg"})),
    (b"\x89PNG\r\n\x1a\n", 0, frozenset({"image/png"})),
    (b"GIF8", 0, frozenset({"image/gif"})),
    (b"%PDF-", 0, frozenset({"application/pdf"})),
    (b"OggS", 0, frozenset({"audio/ogg", "audio/opus", "video/ogg"})),
    (b"ID3", 0, frozenset({"audio/mpeg"})),
    (b"ftyp", 4, frozenset({"video/mp4", "video/3gpp", "audio/mp4", "audio/aac", "image/heic"})),
    (
        b"PK\x03\x04",
        0,
        frozenset(
            {
                "application/zip",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            }
        ),
    ),
    (
        b"\xd0\xcf\x11\xe0",
        0,
        frozenset(
            {"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"}
        ),
    ),
)
_WEBP = frozenset({"image/webp"})


def sniff(head: bytes) -> frozenset[str] | None:
    """The declared types the bytes' signature allows; None when it is not one we know."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _WEBP
    for signature, offset, types in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return types
    return None


def mime_fits(declared: str | None, head: bytes) -> bool:
    """Whether bytes starting with ``head`` may be the declared type.

    A known signature must match the declared type; bytes with no known signature may only
    be a type we cannot recognise (plain text, CSV ...), never one with a signature.
    """
    base = (declared or "").split(";")[0].strip().lower()
    if base == "application/octet-stream":  # "some bytes": nothing declared to hold to
        return True
    found = sniff(head)
    if found is not None:
        return base in found
    known = {t for _, _, types in _SIGNATURES for t in types} | _WEBP
    return base not in known
