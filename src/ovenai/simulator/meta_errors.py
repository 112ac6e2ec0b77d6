"""Meta's error answers as the simulator gives them (sync envelope and webhook ``errors[]``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

HREF = "/documentation/business-messaging/whatsapp/support/error-codes"

# code -> (HTTP status, title, default details)
CATALOGUE: dict[int, tuple[int, str, str]] = {
    100: (400, "Invalid parameter", "A parameter is missing or invalid."),
    131000: (500, "Something went wrong", "Message failed to send because of an unknown error."),
    131008: (400, "Required parameter is missing", "A required parameter is missing."),
    131009: (400, "Parameter value is not valid", "A parameter value is not valid."),
    131016: (503, "Service unavailable", "A service is temporarily unavailable."),
    131026: (400, "Message undeliverable", "Unable to deliver message to this recipient."),
    131047: (
        400,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    131050: (
        400,
        "Unable to deliver the message. This recipient has chosen to stop receiving "
        "marketing messages on WhatsApp from your business.",
        "The user stopped marketing messages from this business.",
    ),
    131051: (400, "Unsupported message type", "Message type is currently not supported."),
    131056: (
        429,
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone "
        "number to the same phone number in a short period of time.",
    ),
    130429: (
        429,
        "Rate limit hit",
        "Message failed to send because there were too many messages sent from this phone "
        "number in a short period of time.",
    ),
    131053: (
        400,
        "Media upload error",
        "Unable to upload the media used in the message.",
    ),
    132000: (
        400,
        "Number of parameters does not match the expected number of params",
        "The number of parameters does not match the template.",
    ),
    132001: (404, "Template name does not exist in the translation", "Template not found."),
    132012: (
        400,
        "Parameter format does not match format in the created template",
        "A parameter's type does not match the template.",
    ),
    132018: (
        400,
        "There was an issue with the parameters in your template.",
        "Param text cannot have new-line/tab characters or more than 4 consecutive spaces.",
    ),
}


@dataclass
class MetaError(Exception):
    """An error the simulator answers with, shaped like Meta's."""

    code: int
    details: str | None = None
    http_status: int | None = None
    subcode: int | None = None

    @property
    def title(self) -> str:
        """Meta's title for the code."""
        return CATALOGUE.get(self.code, (400, f"Error {self.code}", ""))[1]

    @property
    def status(self) -> int:
        """HTTP status of the synchronous answer."""
        return self.http_status or CATALOGUE.get(self.code, (400, "", ""))[0]

    def detail_text(self) -> str:
        """Details given, or the catalogue's default."""
        return self.details or CATALOGUE.get(self.code, (400, "", "Injected error."))[2]

    def envelope(self) -> dict[str, Any]:
        """The synchronous ``{"error": {...}}`` body."""
        error: dict[str, Any] = {
            "message": f"(#{self.code}) {self.title}",
            "type": "OAuthException",
            "code": self.code,
            "error_data": {"messaging_product": "whatsapp", "details": self.detail_text()},
            "fbtrace_id": "A" + secrets.token_urlsafe(15),
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}

    def webhook_error(self) -> dict[str, Any]:
        """The ``errors[]`` element of a failed status webhook."""
        return {
            "code": self.code,
            "title": self.title,
            "message": self.title,
            "error_data": {"details": self.detail_text()},
            "href": HREF,
        }


class InvalidToken(MetaError):
    """A missing or wrong bearer token: HTTP 401 with Meta's code 190 body."""

    def __init__(self) -> None:
        super().__init__(190, http_status=401)

    def envelope(self) -> dict[str, Any]:
        """The 401 body (see :func:`auth_error`)."""
        return auth_error()


def auth_error() -> dict[str, Any]:
    """The 401 body for a missing or wrong bearer token (code 190)."""
    return {
        "error": {
            "message": "Invalid OAuth access token - Cannot parse access token",
            "type": "OAuthException",
            "code": 190,
            "fbtrace_id": "A" + secrets.token_urlsafe(15),
        }
    }


def invalid(details: str, subcode: int | None = None) -> MetaError:
    """Code 100 with details naming the offending field."""
    return MetaError(100, details, subcode=subcode)
