"""What Meta's POSTs must pass before they are stored (Meta: Cloud API › Webhooks › Overview).

The checks run in the order that costs least for a bad request: the declared and the
streamed size (a body is never read past :data:`MAX_BODY_BYTES`), the signature over the
exact bytes, then the nesting depth and JSON syntax. Nothing here parses the webhook
itself: a verified, well-formed body of another ``object`` or an unknown ``field`` is
stored and acknowledged, and the processor ignores it.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterable

import orjson

from ovenai.errors import InvalidInput, PermissionDenied
from ovenai.ingest.errors import InvalidSignature, MalformedPayload, PayloadTooDeep
from ovenai.ingest.receive.depth_guard import MAX_DEPTH, is_too_deep
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, verify_signature
from ovenai.metrics import WEBHOOK_REJECTED

MAX_BODY_BYTES = 4 * 1024 * 1024
"""Meta sends up to 3 MB; anything above 4 MiB is refused unread."""


class BodyTooLarge(InvalidInput):
    """The webhook body is larger than :data:`MAX_BODY_BYTES`."""

    http_status = 413


_REJECTED = {
    reason: WEBHOOK_REJECTED.labels(reason=reason)
    for reason in ("signature", "too_large", "malformed", "unavailable")
}


def count_rejection(reason: str) -> None:
    """Count a refused POST by reason (signature, too_large, malformed, unavailable)."""
    _REJECTED[reason].inc()


async def read_capped(
    chunks: AsyncIterable[bytes], declared_length: str | None, limit: int = MAX_BODY_BYTES
) -> bytes:
    """Read a request body, refusing (BodyTooLarge) past ``limit`` bytes, declared or streamed."""
    if declared_length is not None and declared_length.isdigit() and int(declared_length) > limit:
        raise BodyTooLarge(f"the body is larger than {limit} bytes", field="body")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is larger than {limit} bytes", field="body")
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def check_body(raw: bytes, signature: str | None, app_secret: str) -> None:
    """Raise unless ``raw`` is signed with the app secret and is a JSON object of sane depth.

    1. signature over the exact bytes, constant-time (InvalidSignature);
    2. nesting depth, before any decoding (PayloadTooDeep);
    3. JSON syntax, and an object at the top (MalformedPayload).
    """
    if not verify_signature(raw, signature, app_secret):
        raise InvalidSignature(f"{SIGNATURE_HEADER} is missing or does not match the body")
    if is_too_deep(raw):
        raise PayloadTooDeep(f"webhook JSON nests deeper than {MAX_DEPTH} levels", field="body")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedPayload(f"the body is not JSON: {exc}", field="body") from None
    if not isinstance(document, dict):
        raise MalformedPayload("the body is not a JSON object", field="body")


def handshake(mode: str | None, token: str | None, challenge: str | None, expected: str) -> str:
    """Answer Meta's GET verification: the challenge, or PermissionDenied (403)."""
    given = (token or "").encode()
    matches = bool(expected) and token is not None and hmac.compare_digest(given, expected.encode())
    if mode != "subscribe" or not matches or challenge is None:
        raise PermissionDenied("the webhook verification token does not match")
    return challenge
