"""Where the files leads send are kept: sealed, in chunks, on local disk or in S3.

A kept file is never plaintext anywhere: :class:`SealedWriter` cuts what it is given into
64 KiB chunks and seals each under the lead's key (:func:`ovenai.sealing.seal_file_chunk`:
AES-256-GCM, the chunk's index and whether it is the last in the AAD), so a file is
encrypted as it streams in and decrypted as it streams out, never held whole in memory.
On the store a file is ``MAGIC`` then frames of a 4-byte length and a sealed chunk.

Two stores behind one protocol: :class:`LocalStore` (a directory, the default: the data
directory's ``media/``, or ``OVENAI_MEDIA_DIR``) and :class:`S3Store` (any S3-compatible
service, by ``OVENAI_MEDIA_S3_*``; boto3 calls run in threads, uploads in 8 MiB parts).
Keys are ``<lead id>/<media row id>.<stream>``: ids only, nothing personal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, Protocol

from ovenai.errors import ConfigurationError, CryptoError
from ovenai.sealing import open_file_chunk, seal_file_chunk
from ovenai.settings import Settings

CHUNK_BYTES = 64 * 1024
MAGIC = b"OVNMEDIA1\n"
_LENGTH_BYTES = 4
_S3_PART_BYTES = 8 * 1024 * 1024  # S3 wants parts of at least 5 MiB, the last excepted
_READ_BYTES = 256 * 1024


class Upload(Protocol):
    """One file being written to a store: bytes appended, then committed or aborted."""

    async def write(self, data: bytes) -> None:
        """Append already-sealed bytes."""
        ...

    async def commit(self) -> int:
        """Make the file visible under its key; its size on the store."""
        ...

    async def abort(self) -> None:
        """Drop what was written."""
        ...


class MediaStore(Protocol):
    """A place for sealed files, addressed by key."""

    def upload(self, key: str) -> Upload:
        """Start writing the file of ``key`` (visible once committed)."""
        ...

    def read(self, key: str) -> AsyncIterator[bytes]:
        """The stored bytes of ``key``, in pieces."""
        ...

    async def delete(self, keys: Iterable[str]) -> None:
        """Delete these files (those already gone are ignored)."""
        ...


def storage_key(lead_id: str, media_row_id: str, stream: str) -> str:
    """Where a media row's stream ("content" or "thumbnail") is kept."""
    return f"{lead_id}/{media_row_id}.{stream}"


_OPENED: dict[int, tuple[Settings, MediaStore]] = {}


def store_for(settings: Settings) -> MediaStore:
    """The store of these settings, opened once per process (an S3 client is not cheap)."""
    opened = _OPENED.get(id(settings))
    if opened is None or opened[0] is not settings:
        opened = _OPENED[id(settings)] = (settings, open_store(settings))
    return opened[1]


def open_store(settings: Settings) -> MediaStore:
    """The store the settings name: S3 when a bucket is set, else the local directory."""
    if settings.media_s3_bucket:
        return S3Store(settings)
    return LocalStore(settings.media_dir or settings.data_dir / "media")


class LocalStore:
    """Files under one directory; written to a temporary name, renamed when committed."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The file of a key (keys are made by :func:`storage_key`: no ``..``)."""
        if ".." in key or key.startswith("/"):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    def upload(self, key: str) -> Upload:
        """A temporary file beside the final one (directories 0700, files 0600)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return _LocalUpload(self.path(key))

    async def read(self, key: str) -> AsyncIterator[bytes]:
        """The file in pieces of 256 KiB."""
        with self.path(key).open("rb") as handle:
            while piece := handle.read(_READ_BYTES):
                yield piece

    async def delete(self, keys: Iterable[str]) -> None:
        """Unlink each file; a lead's emptied directory goes too."""
        for key in keys:
            path = self.path(key)
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # only when empty


class _LocalUpload:
    def __init__(self, final: Path) -> None:
        self.final = final
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.temporary = final.with_name(f".{final.name}.{secrets.token_hex(4)}.part")
        descriptor = os.open(self.temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.handle = os.fdopen(descriptor, "wb")
        self.size = 0

    async def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.size += len(data)

    async def commit(self) -> int:
        await asyncio.to_thread(self._durable)  # fsync waits on the disk: off the loop
        return self.size

    def _durable(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self.temporary, self.final)

    async def abort(self) -> None:
        self.handle.close()
        self.temporary.unlink(missing_ok=True)


class S3Store:
    """An S3-compatible bucket (AWS, MinIO, Ceph ...) through boto3, calls in threads."""

    def __init__(self, settings: Settings) -> None:
        import boto3  # type: ignore[import-untyped]  # only a deployment that uses S3 pays for importing it

        if not settings.media_s3_bucket:
            raise ConfigurationError("OVENAI_MEDIA_S3_BUCKET is not set")
        secret = settings.media_s3_secret_access_key
        self.bucket = settings.media_s3_bucket
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=settings.media_s3_endpoint_url,
            region_name=settings.media_s3_region,
            aws_access_key_id=settings.media_s3_access_key_id,
            aws_secret_access_key=None if secret is None else secret.get_secret_value(),
        )

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r})"

    def upload(self, key: str) -> Upload:
        """Buffered in 8 MiB parts: one PUT for a small file, a multipart upload else."""
        return _S3Upload(self, key)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        """The object's body in pieces of 256 KiB."""
        answer = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=key)
        body = answer["Body"]
        try:
            while piece := await asyncio.to_thread(body.read, _READ_BYTES):
                yield piece
        finally:
            body.close()

    async def delete(self, keys: Iterable[str]) -> None:
        """Delete in batches of 1,000 (S3's limit per request)."""
        listed = list(keys)
        for start in range(0, len(listed), 1000):
            objects = [{"Key": key} for key in listed[start : start + 1000]]
            await asyncio.to_thread(
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": objects, "Quiet": True},
            )


class _S3Upload:
    def __init__(self, store: S3Store, key: str) -> None:
        self.store, self.key = store, key
        self.buffer = bytearray()
        self.parts: list[dict[str, Any]] = []
        self.upload_id: str | None = None
        self.size = 0

    async def write(self, data: bytes) -> None:
        self.buffer += data
        self.size += len(data)
        if len(self.buffer) >= _S3_PART_BYTES:
            await self._part()

    async def _part(self) -> None:
        client, bucket = self.store.client, self.store.bucket
        if self.upload_id is None:
            started = await asyncio.to_thread(
                client.create_multipart_upload, Bucket=bucket, Key=self.key
            )
            self.upload_id = str(started["UploadId"])
        number = len(self.parts) + 1
        answer = await asyncio.to_thread(
            client.upload_part,
            Bucket=bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=bytes(self.buffer),
        )
        self.parts.append({"ETag": answer["ETag"], "PartNumber": number})
        self.buffer.clear()

    async def commit(self) -> int:
        client, bucket = self.store.client, self.store.bucket
        if self.upload_id is None:
            await asyncio.to_thread(
                client.put_object, Bucket=bucket, Key=self.key, Body=bytes(self.buffer)
            )
            return self.size
        if self.buffer:
            await self._part()
        await asyncio.to_thread(
            client.complete_multipart_upload,
            Bucket=bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )
        return self.size

    async def abort(self) -> None:
        if self.upload_id is not None:
            await asyncio.to_thread(
                self.store.client.abort_multipart_upload,
                Bucket=self.store.bucket,
                Key=self.key,
                UploadId=self.upload_id,
            )


class SealedWriter:
    """Seals plaintext into chunks as it arrives and writes them to an upload.

    The last chunk is only known at :meth:`close`, so one full chunk is held back until
    more bytes arrive: at most two chunks (128 KiB) of plaintext are in memory.
    """

    def __init__(self, upload: Upload, key: bytes, media_row_id: str, stream: str) -> None:
        self.upload, self.key = upload, key
        self.row_id, self.stream = media_row_id, stream
        self.pending = bytearray()
        self.index = 0
        self.started = False

    async def write(self, data: bytes) -> None:
        """Add plaintext; full chunks but the newest are sealed and written."""
        if not self.started:
            await self.upload.write(MAGIC)
            self.started = True
        self.pending += data
        while len(self.pending) > CHUNK_BYTES:
            await self._seal(bytes(self.pending[:CHUNK_BYTES]), last=False)
            del self.pending[:CHUNK_BYTES]

    async def close(self) -> int:
        """Seal the last chunk and commit the file; its size on the store."""
        if not self.started:
            await self.upload.write(MAGIC)
            self.started = True
        await self._seal(bytes(self.pending), last=True)
        self.pending.clear()
        return await self.upload.commit()

    async def abort(self) -> None:
        """Drop the file."""
        await self.upload.abort()

    async def _seal(self, chunk: bytes, *, last: bool) -> None:
        blob = seal_file_chunk(self.key, self.row_id, self.stream, self.index, last, chunk)
        await self.upload.write(len(blob).to_bytes(_LENGTH_BYTES, "big") + blob)
        self.index += 1


async def write_sealed(
    store: MediaStore, key: str, lead_key: bytes, media_row_id: str, stream: str, data: bytes
) -> int:
    """Seal and store bytes already in memory (a thumbnail); the stored size."""
    writer = SealedWriter(store.upload(key), lead_key, media_row_id, stream)
    try:
        await writer.write(data)
        return await writer.close()
    except BaseException:
        await writer.abort()
        raise


async def read_sealed(
    store: MediaStore, key: str, lead_key: bytes, media_row_id: str, stream: str
) -> AsyncIterator[bytes]:
    """The plaintext of a stored file, chunk by chunk; CryptoError if it was tampered with,
    reordered or cut short (only the chunk sealed as the last may end it)."""
    pieces = store.read(key)
    buffer = bytearray()
    ended = False

    async def fill(size: int) -> None:
        nonlocal ended
        while len(buffer) < size and not ended:
            piece = await anext(pieces, None)
            if piece is None:
                ended = True
            else:
                buffer.extend(piece)

    await fill(len(MAGIC))
    if bytes(buffer[: len(MAGIC)]) != MAGIC:
        raise CryptoError("failed to open a stored file: not a sealed media file")
    del buffer[: len(MAGIC)]
    index = 0
    while True:
        await fill(_LENGTH_BYTES)
        size = int.from_bytes(buffer[:_LENGTH_BYTES], "big")
        await fill(_LENGTH_BYTES + size + 1)  # one byte more: does anything follow?
        if len(buffer) < _LENGTH_BYTES + size or len(buffer) < _LENGTH_BYTES:
            raise CryptoError("failed to open a stored file: cut short")
        blob = bytes(buffer[_LENGTH_BYTES : _LENGTH_BYTES + size])
        del buffer[: _LENGTH_BYTES + size]
        last = ended and not buffer
        plain = open_file_chunk(lead_key, media_row_id, stream, index, last, blob)
        index += 1
        if plain:
            yield plain
        if last:
            return
