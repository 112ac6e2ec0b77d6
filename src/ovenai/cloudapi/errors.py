"""Typed errors of Meta's Cloud API, classified by Meta's numeric code.

Every failure of a Graph call raises one of these; each carries Meta's fields and a
verdict (``kind`` + ``retryable``) that callers act on without reading messages::

    ovenai.errors.CloudApiError
    ├── AuthError               kind AUTH        190, 0, 10, 200-299 ... pause everything
    │   └── AccessTokenInvalid                   190
    ├── ThrottledError          kind THROTTLED   4, 613, 80007, 130429, 131056 ... slow down
    │   ├── ThroughputExceeded                   130429
    │   └── PairRateLimited                      131056
    ├── TransientError          kind TRANSIENT   1, 2, 131000, 131016, 5xx ... retry soon
    │   ├── RequestTimedOut                      no answer in time (outcome unknown)
    │   ├── ConnectionFailed                     refused / reset before an answer
    │   └── UnexpectedResponse                   HTML or other non-JSON body
    ├── DeferredError           kind DEFERRED    368, 131048, 131049, 132015 ... hours later
    └── PermanentError          kind PERMANENT   100, 131047, 132000 ... fix the request
        ├── InvalidParameter                     100
        ├── OutsideServiceWindow                 131047
        ├── RecipientUnreachable                 131026
        ├── MarketingOptedOut                    131050
        ├── TemplateParamCountMismatch           132000
        ├── TemplateNotFound                     132001
        └── TemplateParamInvalid                 132018

All of them derive from :class:`CloudApiFailure` (itself a ``CloudApiError``), which
holds Meta's fields in ``info``. The code → class table and the reading of Meta's envelope live in
:mod:`ovenai.cloudapi.classify`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ovenai.errors import CloudApiError


class ErrorKind(enum.StrEnum):
    """What the caller should do about a failure."""

    AUTH = "auth"
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    DEFERRED = "deferred"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class ErrorDetails:
    """Meta's error envelope fields, kept as sent (``None`` when absent)."""

    http_status: int
    code: int | None = None
    error_subcode: int | None = None
    type: str | None = None
    message: str = ""
    title: str | None = None
    user_message: str | None = None
    details: str | None = None
    fbtrace_id: str | None = None
    is_transient: bool | None = None


class CloudApiFailure(CloudApiError):
    """Base of the classified Cloud API errors; carries Meta's fields and a verdict."""

    kind: ErrorKind = ErrorKind.PERMANENT
    retryable: bool = False

    def __init__(self, info: ErrorDetails, *, retryable: bool | None = None) -> None:
        super().__init__(info.message or f"Cloud API error {info.code}")
        self.info = info
        if retryable is not None:
            self.retryable = retryable

    @property
    def meta_http_status(self) -> int:
        """HTTP status Meta answered with (0 when no answer arrived)."""
        return self.info.http_status

    @property
    def code(self) -> int | None:
        """Meta's numeric error code (``error.code``)."""
        return self.info.code

    @property
    def error_subcode(self) -> int | None:
        """Meta's ``error_subcode`` (deprecated by Meta, logged only)."""
        return self.info.error_subcode

    @property
    def details(self) -> str | None:
        """``error_data.details``: Meta's explanation for humans."""
        return self.info.details

    @property
    def fbtrace_id(self) -> str | None:
        """Trace id to quote to Meta's support."""
        return self.info.fbtrace_id

    @property
    def title(self) -> str | None:
        """``error_user_title`` when Meta sent one."""
        return self.info.title

    def to_dict(self) -> dict[str, object]:
        """Shape the error for a JSON answer (Meta's fields, no secrets)."""
        body = super().to_dict()
        body.update(
            kind=self.kind.value,
            retryable=self.retryable,
            code=self.info.code,
            meta_http_status=self.info.http_status,
            details=self.info.details,
            fbtrace_id=self.info.fbtrace_id,
        )
        return body

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.info.code}, http={self.info.http_status})"


class AuthError(CloudApiFailure):
    """The token is expired, revoked or lacks a permission: pause every call."""

    kind = ErrorKind.AUTH


class AccessTokenInvalid(AuthError):
    """Code 190: the access token is invalid or expired."""


class ThrottledError(CloudApiFailure):
    """A rate limit was hit: slow the limiter and retry."""

    kind = ErrorKind.THROTTLED
    retryable = True


class ThroughputExceeded(ThrottledError):
    """Code 130429: messages per second of the number exceeded."""


class PairRateLimited(ThrottledError):
    """Code 131056: too many messages to the same user in a short time."""


class TransientError(CloudApiFailure):
    """A temporary fault on Meta's side or the network: retry with backoff."""

    kind = ErrorKind.TRANSIENT
    retryable = True


class RequestTimedOut(TransientError):
    """No answer in time; the message may or may not have been sent."""


class ConnectionFailed(TransientError):
    """The connection was refused or broke before an answer arrived."""


class UnexpectedResponse(TransientError):
    """The body was not Meta's JSON (an HTML page from a proxy, garbage)."""


class DeferredError(CloudApiFailure):
    """A quality or policy hold: retry only after hours or a condition change (``retryable``
    only for the codes where Meta names the wait; the others need a person)."""

    kind = ErrorKind.DEFERRED
    retryable = True


class PermanentError(CloudApiFailure):
    """The request itself is wrong for Meta: fix it or change strategy."""

    kind = ErrorKind.PERMANENT


class InvalidParameter(PermanentError):
    """Code 100: a field is missing, misspelled or invalid."""


class OutsideServiceWindow(PermanentError):
    """Code 131047: more than 24 h since the user last wrote; send a template."""


class RecipientUnreachable(PermanentError):
    """Code 131026: the number cannot receive WhatsApp messages."""


class MarketingOptedOut(PermanentError):
    """Code 131050: the user stopped marketing messages from this business."""


class TemplateParamCountMismatch(PermanentError):
    """Code 132000: the parameter count does not match the template."""


class TemplateNotFound(PermanentError):
    """Code 132001: no approved template with this name in this language."""


class TemplateParamInvalid(PermanentError):
    """Code 132018: a parameter has a newline, a tab or more than 4 spaces."""
