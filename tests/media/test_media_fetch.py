"""The worker's fetch job end to end: the simulator (Meta) serves the bytes of the media ids
it sent, the job fetches, checks and stores them sealed, and says why when it does not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from media.conftest import PDF, MediaWorld, jpeg_bytes
from ovenai import media
from ovenai.columns import utcnow
from ovenai.media_store import read_sealed
from ovenai.models import Direction, MediaState, Message

pytestmark = pytest.mark.anyio


async def _plain(world: MediaWorld, row_id: str, stream: str = media.CONTENT) -> bytes:
    row = await world.row(row_id)
    key = await world.db.vault.key("lead", row.lead_id)
    stored = row.storage_key if stream == media.CONTENT else row.thumbnail_key
    assert stored is not None
    return b"".join(
        [c async for c in read_sealed(world.fetcher.store, stored, key, row.id, stream)]
    )


async def test_a_photo_is_fetched_checked_stored_sealed_and_given_a_thumbnail(
    world: MediaWorld,
) -> None:
    photo = jpeg_bytes()
    row = await world.send("image", photo, caption="הסלון")
    assert (row.state, row.kind, row.declared_mime) == ("pending", "image", "image/jpeg")

    outcome = await world.fetch()

    assert outcome.stored == 1
    row = await world.row(row.id)
    assert (row.state, row.stored_size, row.mime_type) == ("stored", len(photo), "image/jpeg")
    assert await _plain(world, row.id) == photo
    on_disk = world.files_on_disk()
    assert len(on_disk) == 2  # the file and its thumbnail, nothing else
    for path in on_disk:
        raw = path.read_bytes()
        assert photo[:64] not in raw and photo[-64:] not in raw  # no plaintext on disk
    thumbnail = await _plain(world, row.id, media.THUMBNAIL)
    assert thumbnail.startswith(b"\xff\xd8\xff") and len(thumbnail) < len(photo)


async def test_a_pdf_is_stored_with_its_file_name_sealed(world: MediaWorld) -> None:
    row = await world.send("document", PDF, filename="תלוש שכר.pdf")
    await world.fetch()
    row = await world.row(row.id)
    assert row.state == "stored" and row.thumbnail_key is None
    assert await _plain(world, row.id) == PDF
    assert row.filename_enc is not None and "תלוש".encode() not in row.filename_enc
    records = await media.of_lead(world.db, row.lead_id)
    assert records[row.message_id].filename == "תלוש שכר.pdf"


async def test_a_large_file_streams_through_in_many_chunks(world: MediaWorld) -> None:
    row = await world.send("document", size=1_500_000)  # generated: a PDF padded to 1.5 MB
    await world.fetch()
    row = await world.row(row.id)
    assert (row.state, row.stored_size) == ("stored", 1_500_000)
    plain = await _plain(world, row.id)
    assert len(plain) == 1_500_000 and plain.startswith(b"%PDF-")


async def test_an_expired_url_is_replaced_by_a_fresh_one(world: MediaWorld) -> None:
    row = await world.send("image", jpeg_bytes())
    await world.control._call("POST", "media/faults", {"expired_urls": 1})
    outcome = await world.fetch()
    assert outcome.stored == 1
    stats = await world.control.stats()
    assert stats["counts"]["media_info"] == 2 and stats["counts"]["media_download_404"] == 1
    assert (await world.row(row.id)).attempts == 1


async def test_meta_failing_is_retried_with_growing_waits(world: MediaWorld) -> None:
    row = await world.send("document", PDF)
    await world.control._call("POST", "media/faults", {"fail_downloads": 2})
    start = utcnow()

    assert (await world.fetch(now=start)).retried == 1
    first = await world.row(row.id)
    assert (first.state, first.attempts) == ("pending", 1)
    assert "500" in (first.error or "")
    assert (await world.fetch(now=start)).retried == 0  # not due yet: nothing claimed

    later = first.next_attempt_at + timedelta(seconds=1)
    assert (await world.fetch(now=later)).retried == 1
    second = await world.row(row.id)
    assert second.attempts == 2
    assert second.next_attempt_at - later > first.next_attempt_at - start  # the wait grew

    assert (await world.fetch(now=second.next_attempt_at + timedelta(seconds=1))).stored == 1
    assert (await world.row(row.id)).state == "stored"


async def test_a_file_not_fetched_within_seven_days_fails_for_good(world: MediaWorld) -> None:
    row = await world.send("document", PDF)
    outcome = await world.fetch(now=row.received_at + timedelta(days=7, minutes=1))
    assert outcome.failed == 1
    failed = await world.row(row.id)
    assert failed.state == "failed" and "7 days" in (failed.error or "")


async def test_corrupted_bytes_are_quarantined_never_shown(world: MediaWorld) -> None:
    row = await world.send("document", PDF)
    await world.control._call("POST", "media/faults", {"corrupt": 1})
    assert (await world.fetch()).quarantined == 1
    kept = await world.row(row.id)
    assert kept.state == "quarantined" and "SHA-256" in (kept.error or "")
    record = (await media.of_lead(world.db, row.lead_id))[row.message_id]
    assert not record.available


async def test_bytes_that_are_not_the_declared_type_are_quarantined(world: MediaWorld) -> None:
    row = await world.send("document", jpeg_bytes(), mime_type="application/pdf")
    assert (await world.fetch()).quarantined == 1
    kept = await world.row(row.id)
    assert kept.state == "quarantined" and "application/pdf" in (kept.error or "")


async def test_meta_declaring_another_type_is_quarantined(world: MediaWorld) -> None:
    row = await world.send("image", jpeg_bytes())
    await world.control._call("POST", "media/faults", {"wrong_mime": 1})
    assert (await world.fetch()).quarantined == 1
    assert (await world.row(row.id)).state == "quarantined"


async def test_more_bytes_than_declared_are_quarantined(world: MediaWorld) -> None:
    row = await world.send("document", PDF)
    await world.control._call("POST", "media/faults", {"oversized": 1})
    assert (await world.fetch()).quarantined == 1
    assert "more bytes" in ((await world.row(row.id)).error or "")
    assert world.files_on_disk() == []  # the partial file was dropped


async def test_a_file_over_the_size_limit_is_refused_without_downloading(
    world: MediaWorld,
) -> None:
    row = await world.send("document", size=3 * 1024 * 1024)  # the limit here is 2 MiB
    assert (await world.fetch()).failed == 1
    refused = await world.row(row.id)
    assert refused.state == "failed" and "over the limit" in (refused.error or "")
    assert "media_download_200" not in (await world.control.stats())["counts"]
    assert world.files_on_disk() == []


async def test_meta_unable_to_download_asks_the_lead_once_to_resend(world: MediaWorld) -> None:
    await world.control.inbound(**{"from": "972521230001", "type": "text", "text": "hi"})
    row = await world.send("image", jpeg_bytes())
    await world.control._call("POST", "media/faults", {"info_errors": 1})
    assert (await world.fetch()).failed == 1
    failed = await world.row(row.id)
    assert failed.state == "failed" and "131052" in (failed.error or "")
    assert failed.resend_asked
    async with world.db.session() as session:
        asked = list(
            await session.scalars(
                select(Message).where(
                    Message.direction == Direction.OUTBOUND,
                    Message.idempotency_key == f"media-resend:{row.id}",
                )
            )
        )
    assert len(asked) == 1 and asked[0].type == "text"


async def test_a_row_is_made_with_the_message_and_no_download_happens_then(
    world: MediaWorld,
) -> None:
    row = await world.send("video")
    assert row.state == MediaState.PENDING and row.attempts == 0
    assert "media_info" not in (await world.control.stats())["counts"]


async def test_several_files_failing_together_ask_the_lead_once(world: MediaWorld) -> None:
    await world.control.inbound(**{"from": "972521230001", "type": "text", "text": "hi"})
    first = await world.send("image", jpeg_bytes())
    second = await world.send("document", PDF)
    await world.control._call("POST", "media/faults", {"info_errors": 2})
    assert (await world.fetch()).failed == 2
    assert (await world.row(first.id)).resend_asked and (await world.row(second.id)).resend_asked
    async with world.db.session() as session:
        asked = list(
            await session.scalars(
                select(Message).where(
                    Message.direction == Direction.OUTBOUND,
                    Message.idempotency_key.like("media-resend:%"),
                )
            )
        )
    assert len(asked) == 1
