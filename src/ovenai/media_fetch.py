"""The worker's ``media.fetch`` job: inbound files fetched from Meta, checked, stored sealed.

Each run claims due ``media_files`` rows (``pending`` whose next attempt has come, or
``fetching`` whose worker's claim ran out) with one conditional UPDATE per row, the
candidates locked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, as the outbox claims messages.
For each: ``GET /{media-id}`` for a fresh URL and Meta's declaration, then the download,
streamed: every piece is hashed, counted and sealed into the store as it arrives, so no
file is ever whole in memory (an image is, to make its thumbnail: Meta caps them at 5 MB).

The checks, against what Meta declared: the size (``OVENAI_MEDIA_MAX_BYTES``, and never
more bytes than declared), the MIME type (the bytes' signature must fit the declared
type) and the SHA-256. A file refused for its size fails; a file whose bytes differ is
``quarantined``: kept aside, flagged with why, never served as the lead's.

Meta or the network failing is retried with growing waits (30 s doubling, at most an hour);
an expired URL (Meta refuses it after about five minutes) is replaced by a fresh one at
once. Seven days after the message Meta no longer has the file: it fails for good. When Meta
says it could not download the lead's file (131052), or the file cannot be had at all, the
lead is asked ONCE, in their language, to send it again (free text through the outbox,
when their window is open).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import live, media
from ovenai.cloudapi import CloudApiClient, CloudApiFailure
from ovenai.cloudapi.downloads import DownloadFailed, MediaInfo, media_info, stream_media
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.file_types import make_thumbnail, mime_fits
from ovenai.leads import open_leads
from ovenai.media_store import MediaStore, SealedWriter, storage_key, write_sealed
from ovenai.models import Lead, MediaFile, MediaState
from ovenai.outbox import queue, rules

log = logging.getLogger("ovenai.media")

KEEP_DAYS = 7  # Meta keeps an inbound media id this long
BATCH = 8  # files fetched at once by one run (its lanes)
CLAIM = 2  # rows a lane claims at a time
LINGER_S = 3.0  # how long the worker's lanes keep looking once nothing is due
LOOK_S = 0.2
ASK_AGAIN_AFTER = timedelta(hours=1)  # several files failing at once: one request to resend
EVERY_S = 1  # how often the worker looks for files to fetch (a run drains all due)
LEASE = timedelta(minutes=10)
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
THUMBNAIL_MAX_SOURCE = 20 * 1024 * 1024  # larger images get no thumbnail
COULD_NOT_DOWNLOAD = 131052
SNIFF_BYTES = 64
RESEND = {
    "he": "לא הצלחנו לקבל את הקובץ ששלחת. נשמח אם תשלח/י אותו שוב.",
    "en": "We could not receive the file you sent. Could you please send it again?",
}


# A row this run claimed is still this run's to settle (an erasure may have taken it).
_STILL_OURS = MediaFile.state == MediaState.FETCHING


class Refused(Exception):
    """The file cannot be had: the row fails (or is quarantined) with this reason."""

    def __init__(self, reason: str, *, state: MediaState = MediaState.FAILED) -> None:
        super().__init__(reason)
        self.state = state


class Later(Exception):
    """Meta or the network failed: try again after a wait."""


@dataclass(frozen=True)
class Fetcher:
    """What a run needs: the database, the Cloud API client, the token and the store."""

    db: Database
    client: CloudApiClient
    access_token: str
    store: MediaStore
    max_bytes: int


@dataclass(frozen=True)
class Outcome:
    """How one run went, by file: stored, quarantined, failed, retried."""

    stored: int = 0
    quarantined: int = 0
    failed: int = 0
    retried: int = 0


def _due(now: datetime) -> ColumnElement[bool]:
    """A row to fetch now: pending and due, or fetching with its lease run out."""
    return or_(
        (MediaFile.state == MediaState.PENDING) & (MediaFile.next_attempt_at <= now),
        (MediaFile.state == MediaState.FETCHING) & (MediaFile.claimed_until < now),
    )


async def _anything_due(db: Database, now: datetime) -> bool:
    async with db.session() as session:
        return await session.scalar(select(MediaFile.id).where(_due(now)).limit(1)) is not None


async def claim(db: Database, now: datetime, *, limit: int = BATCH) -> list[MediaFile]:
    """Take up to ``limit`` due rows for this run (``fetching`` until the lease ends)."""
    due = _due(now)
    async with db.session() as session:
        query = select(MediaFile.id).where(due).order_by(MediaFile.next_attempt_at).limit(limit)
        ids = list(await session.scalars(query.with_for_update(skip_locked=True)))
        claimed = []
        for row_id in ids:
            taken = await session.execute(
                update(MediaFile)
                .where(MediaFile.id == row_id, due)
                .values(
                    state=MediaState.FETCHING,
                    claimed_until=now + LEASE,
                    attempts=MediaFile.attempts + 1,
                    updated_at=now,
                )
            )
            if getattr(taken, "rowcount", 0) == 1:
                claimed.append(row_id)
        await session.commit()
        if not claimed:
            return []
        rows = await session.scalars(select(MediaFile).where(MediaFile.id.in_(claimed)))
        return list(rows)


async def purge(fetcher: Fetcher) -> int:
    """Delete the files an erasure left marked (see :func:`ovenai.media.purge_erased`)."""
    async with fetcher.db.session() as session:
        deleted = await media.purge_erased(session, fetcher.store)
        await session.commit()
    return deleted


async def run(fetcher: Fetcher, *, now: datetime | None = None, linger_s: float = 0.0) -> Outcome:
    """Fetch the due files until none is due: ``BATCH`` lanes, each claiming a few rows at a
    time, so one slow download never holds the others back. With ``linger_s`` a lane looks
    again every 0.2 s until nothing came for that long (the worker's job: a steady stream of
    photos is fetched as it arrives, not at the next run)."""
    totals: dict[str, int] = {"stored": 0, "quarantined": 0, "failed": 0, "retried": 0}
    if not await _anything_due(fetcher.db, now or utcnow()):
        # One read when nothing is due: idle lanes claiming every LOOK_S (write
        # transactions, 40 a second) held up every other writer of the worker, on SQLite
        # above all (automation's answers waited 10-20 s: bench/README.md "Automation").
        return Outcome(**totals)

    async def lane(http: aiohttp.ClientSession) -> None:
        idle_since = time.monotonic()
        fetched = False  # only a lane that fetched lingers: a stream of photos goes on
        while True:
            moment = now or utcnow()
            rows = await claim(fetcher.db, moment, limit=CLAIM)
            if not rows:
                if not fetched or time.monotonic() - idle_since >= linger_s:
                    return
                await asyncio.sleep(LOOK_S)
                continue
            idle_since, fetched = time.monotonic(), True
            for row in rows:
                totals[await _fetch(fetcher, http, row, moment)] += 1

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_read=60)) as http:
        await asyncio.gather(*(lane(http) for _ in range(BATCH)))
    return Outcome(**totals)


async def _fetch(
    fetcher: Fetcher, http: aiohttp.ClientSession, row: MediaFile, now: datetime
) -> str:
    if now - row.received_at > timedelta(days=KEEP_DAYS):
        reason = f"not fetched within {KEEP_DAYS} days: Meta no longer keeps the file"
        await _finish(fetcher, row, MediaState.FAILED, reason, now)
        return "failed"
    try:
        values = await _download(fetcher, http, row)
    except Later as exc:
        await _retry(fetcher, row, str(exc), now)
        return "retried"
    except Refused as exc:
        await _finish(fetcher, row, exc.state, str(exc), now)
        return "quarantined" if exc.state == MediaState.QUARANTINED else "failed"
    except Exception:  # a bug or the store failing: try again later, the row is not lost
        log.exception("fetching media file %s failed", row.id)
        await _retry(fetcher, row, "the file could not be stored; it is tried again", now)
        return "retried"
    async with fetcher.db.session() as session:
        stored = await session.execute(
            update(MediaFile)
            .where(MediaFile.id == row.id, _STILL_OURS)
            .values(
                state=MediaState.STORED,
                error=None,
                claimed_until=None,
                stored_at=utcnow(),
                **values,
            )
        )
        await live.announce(session, {row.lead_id})  # the thumbnail shows at once
        await session.commit()
    if not getattr(stored, "rowcount", 0):  # erased meanwhile: what was written goes too
        keys = [values.get("storage_key"), values.get("thumbnail_key")]
        await fetcher.store.delete([key for key in keys if key])
        return "failed"
    return "stored"


async def _info(fetcher: Fetcher, row: MediaFile) -> MediaInfo:
    try:
        return await media_info(fetcher.client, row.media_id)
    except CloudApiFailure as exc:
        if exc.code == COULD_NOT_DOWNLOAD:
            raise Refused(
                f"Meta could not download the lead's file ({COULD_NOT_DOWNLOAD})"
            ) from None
        if exc.retryable:
            raise Later(
                f"Meta failed to give the file's URL: {exc.kind.value} {exc.code}"
            ) from None
        raise Refused(f"Meta refused the file's URL: code {exc.code}") from None


async def _download(
    fetcher: Fetcher, http: aiohttp.ClientSession, row: MediaFile
) -> dict[str, Any]:
    """Fetch, check and store one file; the row's new values (Refused / Later otherwise)."""
    for _ in range(2):  # a second, fresh URL when the first had expired
        info = await _info(fetcher, row)
        declared_size = info.file_size
        if declared_size is not None and declared_size > fetcher.max_bytes:
            raise Refused(
                f"the file is {declared_size} bytes, over the limit of {fetcher.max_bytes}"
            )
        try:
            return await _store(fetcher, http, row, info)
        except DownloadFailed as exc:
            if not exc.expired:
                raise Later(str(exc)) from None
            last = exc
    raise Later(f"{last}; a fresh URL did not help")


async def _store(
    fetcher: Fetcher, http: aiohttp.ClientSession, row: MediaFile, info: MediaInfo
) -> dict[str, Any]:
    key = await fetcher.db.vault.key("lead", row.lead_id)
    content_key = storage_key(row.lead_id, row.id, media.CONTENT)
    writer = SealedWriter(fetcher.store.upload(content_key), key, row.id, media.CONTENT)
    digest = hashlib.sha256()
    size = 0
    head = bytearray()
    keep = row.kind in ("image", "sticker")
    image = bytearray() if keep else None
    limit = fetcher.max_bytes
    declared_size = info.file_size
    try:
        async for piece in stream_media(http, info.url, fetcher.access_token):
            size += len(piece)
            if size > limit:
                raise Refused(f"the file is over the limit of {limit} bytes")
            if declared_size is not None and size > declared_size:
                raise Refused(
                    f"more bytes than the {declared_size} Meta declared",
                    state=MediaState.QUARANTINED,
                )
            digest.update(piece)
            if len(head) < SNIFF_BYTES:
                head += piece[: SNIFF_BYTES - len(head)]
            if image is not None:
                if len(image) + len(piece) > THUMBNAIL_MAX_SOURCE:
                    image = None
                else:
                    image += piece
            await writer.write(piece)
        await writer.close()
    except BaseException:
        await writer.abort()
        raise
    declared_mime = info.mime_type or row.declared_mime
    declared_sha = info.sha256 or row.declared_sha256 or ""
    values: dict[str, Any] = {
        "stored_size": size,
        "storage_key": content_key,
        "mime_type": declared_mime,
        "declared_size": declared_size,
    }
    problems = []
    if declared_size is not None and size != declared_size:
        problems.append(f"{size} bytes, not the {declared_size} Meta declared")
    if declared_sha and not sha256_matches(declared_sha, digest.digest()):
        problems.append("its SHA-256 differs from the one Meta declared")
    if not mime_fits(declared_mime, bytes(head)):
        problems.append(f"its bytes are not the {declared_mime} Meta declared")
    if problems:
        await _set(fetcher, row.id, values)  # kept aside: where it is, for an investigation
        raise Refused("quarantined: " + "; ".join(problems), state=MediaState.QUARANTINED)
    if image is not None:
        thumbnail = await asyncio.to_thread(make_thumbnail, bytes(image))
        if thumbnail is not None:
            thumb_key = storage_key(row.lead_id, row.id, media.THUMBNAIL)
            await write_sealed(fetcher.store, thumb_key, key, row.id, media.THUMBNAIL, thumbnail)
            values["thumbnail_key"] = thumb_key
    return values


async def _set(fetcher: Fetcher, row_id: str, values: dict[str, Any]) -> None:
    async with fetcher.db.session() as session:
        update_row = update(MediaFile).where(MediaFile.id == row_id, _STILL_OURS)
        await session.execute(update_row.values(**values))
        await session.commit()


def sha256_matches(declared: str, digest: bytes) -> bool:
    """Whether Meta's SHA-256 names this digest: hex (the media URL's answer) or base64
    (as inbound webhooks carry it)."""
    text = declared.strip()
    if text.lower() == digest.hex():
        return True
    encoded = base64.b64encode(digest).decode()
    return text.rstrip("=") in (
        encoded.rstrip("="),
        base64.urlsafe_b64encode(digest).decode().rstrip("="),
    )


async def _retry(fetcher: Fetcher, row: MediaFile, reason: str, now: datetime) -> None:
    wait = min(FIRST_WAIT * 2 ** max(row.attempts - 1, 0), LONGEST_WAIT)
    if now + wait - row.received_at > timedelta(days=KEEP_DAYS):
        await _finish(
            fetcher, row, MediaState.FAILED, f"{reason}; given up after {KEEP_DAYS} days", now
        )
        return
    await _set(
        fetcher,
        row.id,
        {
            "state": MediaState.PENDING,
            "error": reason,
            "claimed_until": None,
            "next_attempt_at": now + wait,
        },
    )


async def _finish(
    fetcher: Fetcher, row: MediaFile, state: MediaState, reason: str, now: datetime
) -> None:
    """The file is settled without being stored: failed or quarantined, with why."""
    log.warning("media file %s %s: %s", row.id, state.value, reason)
    async with fetcher.db.session() as session:
        settled = await session.execute(
            update(MediaFile)
            .where(MediaFile.id == row.id, _STILL_OURS)
            .values(state=state, error=reason[:2000], claimed_until=None)
        )
        if not getattr(settled, "rowcount", 0):
            return  # erased meanwhile
        if state == MediaState.FAILED and not row.resend_asked:
            await _ask_resend(session, fetcher, row)
        await live.announce(session, {row.lead_id})  # why the file is missing shows at once
        await session.commit()


async def _ask_resend(session: AsyncSession, fetcher: Fetcher, row: MediaFile) -> None:
    """Ask the lead once to send the file again (free text: only inside their window).

    Several files failing together (an album Meta could not take) make one request: a lead
    already asked within the hour is not asked again.
    """
    # The lead's row locked (PostgreSQL): two files failing at once ask in turn, not both.
    lead = await session.scalar(select(Lead).where(Lead.id == row.lead_id).with_for_update())
    if lead is None or lead.erased_at is not None:
        return
    asked = select(MediaFile.id).where(
        MediaFile.lead_id == row.lead_id,
        MediaFile.resend_asked.is_(True),
        MediaFile.updated_at > utcnow() - ASK_AGAIN_AFTER,
    )
    if await session.scalar(asked.limit(1)) is None:
        if not await _queue_resend(session, fetcher, lead, row.id):
            return  # the window closed: the agent sees why on the lead page
    await session.execute(update(MediaFile).where(MediaFile.id == row.id).values(resend_asked=True))


async def _queue_resend(
    session: AsyncSession, fetcher: Fetcher, lead: Lead, media_row_id: str
) -> bool:
    """Queue the request in the lead's language; False when it may not go now."""
    (record,) = await open_leads(fetcher.db.vault, [lead])
    text = RESEND["en" if lead.language == "en" else "he"]
    try:
        async with session.begin_nested():
            await queue.enqueue_text(
                session,
                fetcher.db.vault,
                lead=record,
                text=text,
                idempotency_key=f"media-resend:{media_row_id}",
            )
    except (rules.OutsideServiceWindow, rules.NoWhatsAppIdentity):
        return False
    return True
