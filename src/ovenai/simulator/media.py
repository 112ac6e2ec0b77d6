"""Inbound media as Meta serves it: ``GET /{media-id}`` and the short-lived download URL.

Every inbound image, video, audio, document or sticker the control API sends has real bytes
kept here: the ones the request gives (``data_b64``), else generated ones of the kind
(``size`` bytes when asked: a real tiny JPEG, PDF ... padded). ``GET /{version}/{media-id}``
answers ``{url, mime_type, sha256, file_size, id, messaging_product}`` (Meta: "Retrieve
media URL"); the URL serves the bytes to the bearer token for five minutes (Meta:
"Download media"), measured on a clock the control API may move forward
(``POST /_sim/media/clock {"advance_s": 301}``).

Uploads (``POST /{phone-number-id}/media``) are kept as Meta keeps them: the bytes, their
type (which must be one WhatsApp sends and match the bytes' signature, else 131053) and the
time, for 30 days on the same clock; a send naming an upload id that is unknown or older
answers 131053, as Meta does for media it cannot fetch.

Faults (``POST /_sim/media/faults``, each a count of the next calls it hits):
``fail_downloads`` (answered ``fail_status``, 500 by default), ``corrupt`` (a byte changed),
``wrong_mime`` (Meta declares another type), ``oversized`` (more bytes than declared),
``expired_urls`` (the URL given is already expired), ``info_errors`` (``GET /{media-id}``
answers Meta's error ``info_error_code``, 131052 by default).
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
import zlib
from dataclasses import dataclass, field
from typing import Any

from ovenai.simulator.meta_errors import MetaError, invalid

JsonDict = dict[str, Any]
URL_LIFETIME_S = 300.0
UPLOAD_LIFETIME_S = 30 * 24 * 3600.0
_MB = 1024 * 1024
# What an upload may be: WhatsApp's types and sizes, and the signature the bytes of the
# commonest must start with (b"": not checked here).
_UPLOAD_TYPES: dict[str, tuple[bytes, int]] = {
    "image/jpeg": (b"\xff\xd8\xff", 5 * _MB),
    "image/png": (b"\x89PNG\r\n\x1a\n", 5 * _MB),
    "image/webp": (b"RIFF", 500 * 1024),
    "application/pdf": (b"%PDF-", 100 * _MB),
    "text/plain": (b"", 100 * _MB),
    "application/msword": (b"", 100 * _MB),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"", 100 * _MB),
    "application/vnd.ms-excel": (b"", 100 * _MB),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"", 100 * _MB),
    "audio/aac": (b"", 16 * _MB),
    "audio/amr": (b"", 16 * _MB),
    "audio/mpeg": (b"", 16 * _MB),
    "audio/mp4": (b"", 16 * _MB),
    "audio/ogg": (b"", 16 * _MB),
    "video/mp4": (b"", 16 * _MB),
    "video/3gpp": (b"", 16 * _MB),
}
DOWNLOAD_PATH = "/whatsapp_business/attachments/"
FAULTS = ("fail_downloads", "corrupt", "wrong_mime", "oversized", "expired_urls", "info_errors")
_WRONG = {"application/pdf": "image/jpeg"}


@dataclass
class StoredMedia:
    """One media id's bytes and what Meta says of them."""

    data: bytes
    mime_type: str


@dataclass
class MediaLibrary:
    """The simulator's media: bytes by id, issued URLs, a movable clock and faults."""

    files: dict[str, StoredMedia] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    urls: dict[str, tuple[str, float]] = field(default_factory=dict)
    offset_s: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)
    fail_status: int = 500
    info_error_code: int = 131052
    downloads: int = 0
    served_bytes: int = 0
    uploaded: dict[str, float] = field(default_factory=dict)  # upload id → when (media clock)

    def add_upload(self, data: bytes, mime_type: str, now: float) -> str:
        """Keep an uploaded file (``POST /{phone-number-id}/media``); its new media id."""
        signature, limit = _UPLOAD_TYPES.get(mime_type.split(";")[0].strip(), (b"", 0))
        if not limit or not data.startswith(signature):
            problem = f"unsupported or mismatched type {mime_type}"
            raise MetaError(131053, f"Media upload error: {problem}")
        if len(data) > limit:
            raise MetaError(131053, f"Media upload error: {len(data)} bytes is over the limit")
        media_id = str(10**15 + secrets.randbelow(9 * 10**15))
        self.files[media_id] = StoredMedia(data, mime_type)
        self.uploaded[media_id] = now + self.offset_s
        return media_id

    def check_sendable(self, media_id: str, now: float) -> None:
        """A send by media id: the id must be an upload of the last 30 days (131053 if not)."""
        at = self.uploaded.get(media_id)
        if at is None or now + self.offset_s - at > UPLOAD_LIFETIME_S:
            raise MetaError(131053, f"Media upload error: media id {media_id} was not found")

    def add_for_request(self, kind: str, request: JsonDict, default_mime: str) -> JsonDict:
        """Keep the bytes of an inbound request's media; the request with its id and hash."""
        mime = str(request.get("mime_type", default_mime))
        if "data_b64" in request:
            data = base64.b64decode(str(request["data_b64"]))
        else:
            data = generated(kind, int(request.get("size", 0)))
        media_id = str(request.get("media_id") or secrets.randbelow(10**15) + 10**15)
        sha256 = hashlib.sha256(data).hexdigest()
        data = self.blobs.setdefault(sha256, data)  # the same photo sent often is kept once
        self.files[media_id] = StoredMedia(data, mime)
        kept = {key: value for key, value in request.items() if key != "data_b64"}
        return {**kept, "media_id": media_id, "mime_type": mime, "sha256": sha256}

    def _take(self, fault: str) -> bool:
        left = self.faults.get(fault, 0)
        if left <= 0:
            return False
        self.faults[fault] = left - 1
        return True

    def info(self, media_id: str, base_url: str, now: float) -> JsonDict:
        """``GET /{media-id}``: a fresh URL and Meta's declaration (code 100 if unknown)."""
        stored = self.files.get(media_id)
        if stored is None:
            raise MetaError(
                100,
                f"Unsupported get request. Object with ID '{media_id}' does not exist.",
                subcode=33,
            )
        if self._take("info_errors"):
            raise MetaError(self.info_error_code)
        token = secrets.token_urlsafe(16)
        issued = now + self.offset_s
        if self._take("expired_urls"):
            issued -= URL_LIFETIME_S + 1
        self.urls[token] = (media_id, issued)
        mime = stored.mime_type
        if self._take("wrong_mime"):
            mime = _WRONG.get(mime, "application/pdf")
        return {
            "messaging_product": "whatsapp",
            "url": f"{base_url.rstrip('/')}{DOWNLOAD_PATH}?mid={media_id}&hash={token}",
            "mime_type": mime,
            "sha256": hashlib.sha256(stored.data).hexdigest(),
            "file_size": len(stored.data),
            "id": media_id,
        }

    def download(self, token: str, now: float) -> tuple[int, bytes, bytes]:
        """The bytes of an issued URL, or 404 once its five minutes are over."""
        issued = self.urls.get(token)
        if issued is None or now + self.offset_s - issued[1] > URL_LIFETIME_S:
            return 404, b"URL signature expired", b"text/plain"
        if self._take("fail_downloads"):
            return self.fail_status, b"Service unavailable", b"text/plain"
        stored = self.files[issued[0]]
        data = stored.data
        if self._take("corrupt") and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:] if len(data) < 2 else data[:-1] + b"\x00"
        if self._take("oversized"):
            data = data + b"\x00" * 1024
        self.downloads += 1
        self.served_bytes += len(data)
        return 200, data, stored.mime_type.split(";")[0].encode()

    def apply_faults(self, spec: JsonDict) -> JsonDict:
        """Merge fault counts (and ``fail_status``, ``info_error_code``); all of them back."""
        for key, value in spec.items():
            if key in FAULTS:
                self.faults[key] = int(value)
            elif key == "fail_status":
                self.fail_status = int(value)
            elif key == "info_error_code":
                self.info_error_code = int(value)
            else:
                raise invalid(f"Unknown media fault {key!r}; allowed: {sorted(FAULTS)}")
        return {"faults": dict(self.faults), "fail_status": self.fail_status}

    def advance(self, seconds: float) -> JsonDict:
        """Move the media clock forward (issued URLs age by as much)."""
        self.offset_s += seconds
        return {"offset_s": self.offset_s}


def generated(kind: str, size: int) -> bytes:
    """Real bytes of a kind (a tiny JPEG or PDF ...), padded to ``size`` when asked."""
    base = _SAMPLES.get(kind, b"simulated media\n")
    if size <= len(base):
        return base
    padding = secrets.token_bytes(size - len(base))
    if kind == "document":  # a PDF's end marker stays last
        return base[:-6] + padding + base[-6:]
    return base + padding  # image decoders stop at the image's end


def _png() -> bytes:
    raw = b"".join(
        b"\x00" + b"".join(bytes([x * 16, y * 16, 128]) for x in range(16)) for y in range(16)
    )

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = (16).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00"
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _jpeg() -> bytes:
    """A 16x16 JPEG, made once with Pillow."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


_SAMPLES = {
    "image": _jpeg(),
    "sticker": b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07"
    + b"\x10\x11\x11\x88\x88\xfe\x07\x00",
    "document": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
    "audio": b"OggS\x00\x02" + b"\x00" * 22,
    "video": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
}
PNG_SAMPLE = _png()
