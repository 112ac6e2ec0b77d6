"""Errors of webhook ingestion (receiving and parsing), derived from :mod:`ovenai.errors`.

::

    InvalidInput (422)
    └── MalformedPayload        body is not JSON or not a webhook envelope
        └── PayloadTooDeep      JSON nested deeper than we accept
    AuthenticationFailed (401)
    └── InvalidSignature        X-Hub-Signature-256 missing or wrong
"""

from __future__ import annotations

from ovenai.errors import AuthenticationFailed, InvalidInput


class MalformedPayload(InvalidInput):
    """The webhook body is not JSON, or not shaped like a webhook envelope."""


class PayloadTooDeep(MalformedPayload):
    """The webhook body nests arrays/objects deeper than the parser accepts."""


class InvalidSignature(AuthenticationFailed):
    """The X-Hub-Signature-256 header is missing, malformed or does not match the body."""
