"""The ``X-Hub-Signature-256`` check Meta asks for (Meta: Graph API › Webhooks › Getting started).

The HMAC is computed over the exact request bytes. Never re-serialise parsed JSON before
checking: Meta escapes non-ASCII as ``\\uXXXX`` and ``/`` as ``\\/``, so any re-dump differs.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from ovenai.ingest.errors import InvalidSignature

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def sign(raw_body: bytes, app_secret: str) -> str:
    """Return the ``X-Hub-Signature-256`` header value Meta would send for these bytes."""
    digest = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(raw_body: bytes, header_value: str | None, app_secret: str) -> bool:
    """Tell whether the header signs these exact bytes; False for a missing/malformed header.

    Never raises for any header value. An empty ``app_secret`` never verifies (fail closed).
    """
    given = _given_digest(header_value)
    if given is None or not app_secret:
        return False
    expected = sign(raw_body, app_secret)[len(_PREFIX) :]
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii"))


def require_valid_signature(raw_body: bytes, header_value: str | None, app_secret: str) -> None:
    """Raise :class:`InvalidSignature` unless the header signs these exact bytes."""
    if not verify_signature(raw_body, header_value, app_secret):
        raise InvalidSignature(f"{SIGNATURE_HEADER} is missing or does not match the body")


def _given_digest(header_value: str | None) -> str | None:
    """Extract the lower-case hex digest from a header value, or None if malformed."""
    if header_value is None:
        return None
    value = header_value.strip()
    if value[: len(_PREFIX)].lower() != _PREFIX:
        return None
    digest = value[len(_PREFIX) :]
    if _HEX_DIGEST.fullmatch(digest) is None:
        return None
    return digest.lower()
