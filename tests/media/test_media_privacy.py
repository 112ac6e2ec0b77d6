"""The files leads send follow the privacy rules of their text: erasure deletes them from
the store, retention deletes them with their messages, the export hands them back."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from media.conftest import PDF, MediaWorld, jpeg_bytes
from ovenai import media, media_fetch, privacy, privacy_export, retention
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.models import Lead, MediaFile, Message, Role
from ovenai.settings import Settings

pytestmark = pytest.mark.anyio

ADMIN = Actor(user_id=None, role=Role.ADMIN, email="dpo@example.co.il")


async def _rows(world: MediaWorld) -> int:
    async with world.db.session() as session:
        return int(await session.scalar(select(func.count(MediaFile.id))) or 0)


async def test_erasing_a_lead_deletes_its_files(world: MediaWorld) -> None:
    row = await world.send("image", jpeg_bytes())
    await world.send("document", PDF)
    await world.fetch()
    assert len(world.files_on_disk()) == 3  # two files and a thumbnail

    await privacy.erase_lead(world.db, actor=ADMIN, lead_id=row.lead_id, files=world.fetcher.store)

    assert world.files_on_disk() == []
    assert await _rows(world) == 0


async def test_an_erasure_without_the_store_leaves_the_deletion_to_the_worker(
    world: MediaWorld,
) -> None:
    row = await world.send("document", PDF)
    await world.fetch()
    await privacy.erase_lead(world.db, actor=ADMIN, lead_id=row.lead_id)
    assert (await world.row(row.id)).state == "erased"  # never fetched or served again
    assert await world.fetch() == media_fetch.Outcome()  # nothing claimed
    assert await media_fetch.purge(world.fetcher) == 1
    assert world.files_on_disk() == [] and await _rows(world) == 0


async def test_retention_deletes_a_file_with_its_message(world: MediaWorld) -> None:
    row = await world.send("document", PDF)
    await world.fetch()
    policy = retention.Policy(
        conversations=timedelta(days=1),
        webhook_logs=timedelta(days=365),
        audit=timedelta(days=365),
        lead_grace=timedelta(days=365),
    )
    later = utcnow() + timedelta(days=2)
    await retention.run(world.db, policy=policy, now=later, files=world.fetcher.store)
    assert world.files_on_disk() == [] and await _rows(world) == 0  # went with its message
    async with world.db.session() as session:
        assert await session.get(MediaFile, row.id) is None


async def test_the_export_zip_holds_the_lead_s_files_decrypted(world: MediaWorld) -> None:
    photo = jpeg_bytes()
    await world.send("image", photo)
    await world.send("document", PDF, filename="תלוש.pdf")
    await world.fetch()
    lead = await world.lead()

    data = await privacy_export.export(
        world.db, actor=ADMIN, fmt="csv", files=world.fetcher.store, lead_id=lead.id
    )

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        files = sorted(name for name in names if name.startswith("files/"))
        entries = archive.infolist()
        assert {entry.compress_type for entry in entries} == {zipfile.ZIP_DEFLATED}
        # A file is streamed, its size unknown when its entry starts: each is written as
        # zip64 (version 4.5), so one over 2 GiB still fits.
        assert [e.extract_version for e in entries if e.filename in files] == [45, 45]
        assert len(files) == 2 and "files.csv" in names
        contents = {archive.read(name) for name in files}
        listed = archive.read("files.csv").decode("utf-8-sig")
    assert contents == {photo, PDF}
    assert any(name.endswith("תלוש.pdf") for name in files)
    assert "תלוש.pdf" in listed and "stored" in listed


async def test_the_json_export_lists_the_files(world: MediaWorld) -> None:
    await world.send("document", PDF)
    lead = await world.lead()
    data = await privacy_export.export(world.db, actor=ADMIN, fmt="json", lead_id=lead.id)
    assert b'"files"' in data and b'"pending"' in data


async def test_retention_erasing_an_ended_lead_deletes_its_files(world: MediaWorld) -> None:
    await world.send("document", PDF)
    await world.fetch()
    lead = await world.lead()
    async with world.db.session() as session:
        await session.execute(
            update(Lead).where(Lead.id == lead.id).values(closed_at=utcnow() - timedelta(days=2))
        )
        await session.commit()
    policy = retention.Policy(
        conversations=timedelta(days=365),
        webhook_logs=timedelta(days=365),
        audit=timedelta(days=365),
        lead_grace=timedelta(days=1),
    )
    counts = await retention.run(world.db, policy=policy, files=world.fetcher.store)
    assert counts["lead contact details"] == 1
    assert world.files_on_disk() == [] and await _rows(world) == 0


async def test_the_daily_job_deletes_files_from_the_settings_store(
    world: MediaWorld, clean_db: Settings
) -> None:
    await world.send("document", PDF)
    await world.fetch()
    days = clean_db.retention_conversation_days + 1
    async with world.db.session() as session:
        await session.execute(update(Message).values(created_at=utcnow() - timedelta(days=days)))
        await session.commit()
    counts = await retention.daily_job(world.db, clean_db)
    assert counts["messages"] == 1
    assert world.files_on_disk() == [] and await _rows(world) == 0


async def _readable(world: MediaWorld, lead_id: str) -> list[tuple[str | None, bytes]]:
    """Each stored file of the lead: its name as sealed in its row, and its content as the
    export decrypts it from the store."""
    records = await media.of_lead(world.db, lead_id)
    names = [record.filename for record in records.values()]
    contents = []
    async for _name, chunks in media.lead_files(world.db, world.fetcher.store, lead_id):
        contents.append(b"".join([chunk async for chunk in chunks]))
    assert len(names) == len(contents) == 1  # one file each in the test below
    return [(names[0], contents[0])]


@pytest.mark.parametrize("with_store", [True, False])
async def test_erasing_one_lead_deletes_its_files_only(world: MediaWorld, with_store: bool) -> None:
    mine = await world.send("document", PDF, wa_id="972521230001", filename="שלי.pdf")
    theirs = await world.send("document", PDF, wa_id="972521230002", filename="חוזה.pdf")
    await world.fetch()
    assert len(world.files_on_disk()) == 2
    assert await _readable(world, theirs.lead_id) == [("חוזה.pdf", PDF)]
    store = world.fetcher.store

    await privacy.erase(
        world.db, actor=ADMIN, lead_id=mine.lead_id, files=store if with_store else None
    )
    if not with_store:  # the worker's media job deletes the files of every erased lead
        assert await media_fetch.purge(world.fetcher) == 1

    assert len(world.files_on_disk()) == 1  # the other lead's file stays, still readable
    assert (await world.row(theirs.id)).state == "stored"
    assert await _readable(world, theirs.lead_id) == [("חוזה.pdf", PDF)]


async def test_an_erasure_with_the_store_deletes_its_own_lead_s_files_only(
    world: MediaWorld,
) -> None:
    """The files another erasure left to the worker (it had no store) wait for the worker's
    job: an erasure deletes what its own lead sent, not every erased lead's."""
    left = await world.send("document", PDF, wa_id="972521230001")
    mine = await world.send("document", PDF, wa_id="972521230002")
    await world.fetch()
    await privacy.erase_lead(world.db, actor=ADMIN, lead_id=left.lead_id)
    assert len(world.files_on_disk()) == 2

    await privacy.erase_lead(world.db, actor=ADMIN, lead_id=mine.lead_id, files=world.fetcher.store)

    assert len(world.files_on_disk()) == 1
    assert (await world.row(left.id)).state == "erased"
    assert await media_fetch.purge(world.fetcher) == 1  # the worker's job, for the first
    assert world.files_on_disk() == []
