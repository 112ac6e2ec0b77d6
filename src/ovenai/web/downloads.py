"""Serving a lead's file to a browser or an API client: streamed, never inline.

Both the dashboard's download route and the REST API's answer with this: the decrypted
chunks as they come (:func:`ovenai.media.open_content`), ``Content-Disposition: attachment``
(the browser saves it, never renders it in our origin) with the file's name in RFC 5987
form (Hebrew names survive), and no caching by anything in between.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import StreamingResponse

from ovenai.media import Download


def file_response(download: Download, *, inline: bool = False) -> StreamingResponse:
    """The response streaming a file; ``inline`` only for thumbnails we made ourselves."""
    ascii_name = download.filename.encode("ascii", "replace").decode().replace('"', "_")
    disposition = "inline" if inline else "attachment"
    headers = {
        "Content-Disposition": (
            f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(download.filename)}"
        ),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if download.size is not None and not inline:
        headers["Content-Length"] = str(download.size)
    return StreamingResponse(download.chunks, media_type=download.mime_type, headers=headers)
