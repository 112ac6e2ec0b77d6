"""Inbound media from Meta: ``GET /{media-id}`` for a short-lived URL, then its bytes.

Meta answers ``{url, mime_type, sha256, file_size, id}``; the URL lives about five minutes and
is downloaded with the same bearer token (Meta: "Retrieve media URL", "Download media").
The bytes are streamed in pieces, never read whole: the caller seals each piece as it comes.
The URL is on another host than the Graph API (lookaside.fbsbx.com), so the download uses
its own aiohttp session rather than the Graph connection pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from ovenai.cloudapi.client import CloudApiClient
from ovenai.errors import CloudApiError

PIECE_BYTES = 64 * 1024
# A refused download whose URL may simply have expired: ask Meta for a fresh one.
EXPIRED_STATUSES = frozenset({401, 403, 404, 410})


@dataclass(frozen=True)
class MediaInfo:
    """What Meta declares about a media id."""

    url: str
    mime_type: str | None
    sha256: str | None
    file_size: int | None


class DownloadFailed(CloudApiError):
    """The media URL answered with an error status or the connection broke."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status

    @property
    def expired(self) -> bool:
        """Whether a fresh URL may help (the URL's five minutes are over)."""
        return self.status in EXPIRED_STATUSES


async def media_info(client: CloudApiClient, media_id: str) -> MediaInfo:
    """``GET /{media-id}``: the URL and Meta's declaration; CloudApiFailure when refused."""
    answer = await client.raw.get(media_id, endpoint="media_info")
    size = answer.get("file_size")
    return MediaInfo(
        url=str(answer.get("url") or ""),
        mime_type=answer.get("mime_type"),
        sha256=answer.get("sha256"),
        file_size=int(size) if size is not None else None,
    )


async def stream_media(
    session: aiohttp.ClientSession, url: str, access_token: str
) -> AsyncIterator[bytes]:
    """The bytes of a media URL in pieces of at most 64 KiB, with the bearer token."""
    headers = {"Authorization": f"Bearer {access_token}"}
    try:
        async with session.get(url, headers=headers, allow_redirects=True) as answer:
            if answer.status != 200:
                raise DownloadFailed(
                    f"the media URL answered {answer.status}", status=answer.status
                )
            async for piece in answer.content.iter_chunked(PIECE_BYTES):
                yield piece
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DownloadFailed(f"the download broke: {type(exc).__name__}") from None
