"""The sealed file format and the two stores: local directory, and S3 (moto's server on
127.0.0.1 stands in for any S3-compatible service)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from conftest import free_port
from media.conftest import PDF, MediaWorld
from ovenai import media_fetch, privacy
from ovenai.auth import Actor
from ovenai.errors import CryptoError
from ovenai.media_store import (
    CHUNK_BYTES,
    LocalStore,
    MediaStore,
    S3Store,
    open_store,
    read_sealed,
    write_sealed,
)
from ovenai.models import Role
from ovenai.settings import Settings

pytestmark = pytest.mark.anyio

KEY = os.urandom(32)
BUCKET = "ovenai-media-test"


async def _read(store: MediaStore, key: str, row: str = "row-1", data_key: bytes = KEY) -> bytes:
    return b"".join([chunk async for chunk in read_sealed(store, key, data_key, row, "content")])


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 7])
async def test_a_file_comes_back_whole_whatever_its_size(tmp_path: Path, size: int) -> None:
    store = LocalStore(tmp_path)
    data = os.urandom(size)
    await write_sealed(store, "lead/row-1.content", KEY, "row-1", "content", data)
    assert await _read(store, "lead/row-1.content") == data
    raw = (tmp_path / "lead/row-1.content").read_bytes()
    assert size < 32 or data[:32] not in raw


async def test_a_cut_reordered_or_moved_file_never_opens(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    data = os.urandom(3 * CHUNK_BYTES)
    await write_sealed(store, "a/row-1.content", KEY, "row-1", "content", data)
    path = tmp_path / "a/row-1.content"
    whole = path.read_bytes()
    frame = 4 + 1 + 12 + CHUNK_BYTES + 16
    head = len(b"OVNMEDIA1\n")
    path.write_bytes(whole[: head + 2 * frame])  # the last chunk cut off
    with pytest.raises(CryptoError):
        await _read(store, "a/row-1.content")
    first, second = whole[head : head + frame], whole[head + frame : head + 2 * frame]
    path.write_bytes(whole[:head] + second + first + whole[head + 2 * frame :])
    with pytest.raises(CryptoError):
        await _read(store, "a/row-1.content")
    path.write_bytes(whole)
    with pytest.raises(CryptoError):
        await _read(store, "a/row-1.content", row="row-2")  # another row's file
    with pytest.raises(CryptoError):
        await _read(store, "a/row-1.content", data_key=os.urandom(32))
    assert await _read(store, "a/row-1.content") == data


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback, with the test bucket."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def _s3_settings(settings: Settings, endpoint: str) -> Settings:
    return settings.model_copy(
        update={
            "media_s3_bucket": BUCKET,
            "media_s3_endpoint_url": endpoint,
            "media_s3_access_key_id": "test",
            "media_s3_secret_access_key": SecretStr("test"),
        }
    )


async def test_s3_keeps_a_large_file_in_parts_and_deletes_it(
    s3_endpoint: str, settings: Settings
) -> None:
    store = open_store(_s3_settings(settings, s3_endpoint))
    assert isinstance(store, S3Store)
    data = os.urandom(9 * 1024 * 1024)  # more than one 8 MiB part: a multipart upload
    await write_sealed(store, "lead/row-1.content", KEY, "row-1", "content", data)
    assert await _read(store, "lead/row-1.content") == data
    stored = store.client.get_object(Bucket=BUCKET, Key="lead/row-1.content")["Body"].read()
    assert data[:64] not in stored
    await store.delete(["lead/row-1.content"])
    listed = store.client.list_objects_v2(Bucket=BUCKET, Prefix="lead/")
    assert listed.get("KeyCount", 0) == 0


async def test_a_lead_s_file_fetched_into_s3_is_deleted_when_the_lead_is_erased(
    world: MediaWorld, s3_endpoint: str, clean_db: Settings
) -> None:
    store = open_store(_s3_settings(clean_db, s3_endpoint))
    assert isinstance(store, S3Store)
    fetcher = media_fetch.Fetcher(
        db=world.db,
        client=world.fetcher.client,
        access_token=world.fetcher.access_token,
        store=store,
        max_bytes=world.fetcher.max_bytes,
    )
    row = await world.send("document", PDF)
    assert (await media_fetch.run(fetcher)).stored == 1
    stored = await world.row(row.id)
    assert stored.storage_key is not None
    assert (
        await _read(store, stored.storage_key, row=row.id, data_key=await _key(world, row.lead_id))
        == PDF
    )
    admin = Actor(user_id=None, role=Role.ADMIN, email="dpo@example.co.il")
    await privacy.erase_lead(world.db, actor=admin, lead_id=row.lead_id, files=store)
    listed = store.client.list_objects_v2(Bucket=BUCKET, Prefix=f"{row.lead_id}/")
    assert listed.get("KeyCount", 0) == 0


async def _key(world: MediaWorld, lead_id: str) -> bytes:
    return await world.db.vault.key("lead", lead_id)


async def test_local_files_are_the_owner_s_only(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "media")
    await write_sealed(store, "lead/row-1.content", KEY, "row-1", "content", b"x")
    assert (tmp_path / "media").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "media/lead").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "media/lead/row-1.content").stat().st_mode & 0o777 == 0o600
