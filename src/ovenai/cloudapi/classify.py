"""Classify Meta's error answers: the code table and the envelope reader.

Codes not in :data:`ERROR_TABLE` are classified by HTTP status (429 throttled, 401/403
auth, 5xx transient, other 4xx permanent). The table covers every code on Meta's "Cloud API ›
Support › Error codes" page (verdicts: docs/whatsapp-api-notes.md, "Retry verdicts").
"""

from __future__ import annotations

from typing import Any

from ovenai.cloudapi.errors import (
    AccessTokenInvalid,
    AuthError,
    CloudApiFailure,
    ConnectionFailed,
    DeferredError,
    ErrorDetails,
    InvalidParameter,
    MarketingOptedOut,
    OutsideServiceWindow,
    PairRateLimited,
    PermanentError,
    RecipientUnreachable,
    RequestTimedOut,
    TemplateNotFound,
    TemplateParamCountMismatch,
    TemplateParamInvalid,
    ThrottledError,
    ThroughputExceeded,
    TransientError,
    UnexpectedResponse,
)

Rule = tuple[type[CloudApiFailure], bool]

_AUTH: Rule = (AuthError, False)
_THROTTLED: Rule = (ThrottledError, True)
_TRANSIENT: Rule = (TransientError, True)
_DEFERRED: Rule = (DeferredError, True)  # Meta names a wait: tried once more after it
_DEFERRED_FINAL: Rule = (DeferredError, False)  # no wait named: a human decides
_PERMANENT: Rule = (PermanentError, False)


def _span(first: int, last: int, rule: Rule) -> dict[int, Rule]:
    return {code: rule for code in range(first, last + 1)}


ERROR_TABLE: dict[int, Rule] = {
    **_span(200, 299, _AUTH),
    **_span(133001, 133003, _PERMANENT),
    **_span(133011, 133014, _PERMANENT),
    **_span(134100, 134102, _PERMANENT),
    **_span(138000, 138018, _PERMANENT),
    **_span(139000, 139004, _PERMANENT),
    **_span(139100, 139102, _PERMANENT),
    **_span(147001, 147005, _PERMANENT),
    **_span(2388012, 2388103, _PERMANENT),
    **_span(2388293, 2388299, _PERMANENT),
    0: _AUTH,
    1: _TRANSIENT,
    2: _TRANSIENT,
    3: _PERMANENT,
    4: _THROTTLED,
    10: _AUTH,
    33: _PERMANENT,
    100: (InvalidParameter, False),
    190: (AccessTokenInvalid, False),
    368: _DEFERRED_FINAL,
    470: (OutsideServiceWindow, False),
    613: _THROTTLED,
    80007: _THROTTLED,
    130403: _PERMANENT,
    130429: (ThroughputExceeded, True),
    130472: _PERMANENT,
    130497: _PERMANENT,
    131000: _TRANSIENT,
    131005: _AUTH,
    131008: _PERMANENT,
    131009: _PERMANENT,
    131016: _TRANSIENT,
    131021: _PERMANENT,
    131026: (RecipientUnreachable, False),
    131030: _PERMANENT,
    131031: _PERMANENT,
    131037: _PERMANENT,
    131042: _PERMANENT,
    131044: _PERMANENT,
    131045: _PERMANENT,
    131047: (OutsideServiceWindow, False),
    131048: _DEFERRED_FINAL,
    131049: _DEFERRED,
    131050: (MarketingOptedOut, False),
    131051: _PERMANENT,
    131052: _PERMANENT,
    131053: _PERMANENT,
    131055: _PERMANENT,
    131056: (PairRateLimited, True),
    131057: _TRANSIENT,
    131059: _PERMANENT,
    131062: _PERMANENT,
    131063: _PERMANENT,
    131064: _DEFERRED_FINAL,
    132000: (TemplateParamCountMismatch, False),
    132001: (TemplateNotFound, False),
    132005: _PERMANENT,
    132007: _PERMANENT,
    132008: _PERMANENT,
    132012: _PERMANENT,
    132015: _DEFERRED_FINAL,
    132016: _PERMANENT,
    132018: (TemplateParamInvalid, False),
    132068: _PERMANENT,
    132069: _DEFERRED,
    133000: _PERMANENT,
    133004: _TRANSIENT,
    133005: _PERMANENT,
    133006: _PERMANENT,
    133007: _PERMANENT,
    133008: _DEFERRED_FINAL,
    133009: _DEFERRED_FINAL,
    133010: _PERMANENT,
    133015: _TRANSIENT,
    133016: _DEFERRED_FINAL,
    134011: _PERMANENT,
    134101: _DEFERRED,
    135000: _PERMANENT,
    137000: _PERMANENT,
    139103: _TRANSIENT,
    2494100: _TRANSIENT,
}
"""Meta code → (error class, retryable), for every code on Meta's "Error codes" page."""


def rule_for_status(http_status: int) -> Rule:
    """Classify an error Meta did not give a known code for, by HTTP status."""
    if http_status == 429:
        return _THROTTLED
    if http_status in (401, 403):
        return _AUTH
    if http_status >= 500:
        return _TRANSIENT
    return _PERMANENT


def classify(info: ErrorDetails) -> CloudApiFailure:
    """Build the typed error for Meta's fields (code first, HTTP status as fallback)."""
    rule = ERROR_TABLE.get(info.code) if info.code is not None else None
    cls, retryable = rule or rule_for_status(info.http_status)
    return cls(info, retryable=retryable)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _details_of(error_data: Any) -> str | None:
    # error_data is an object on most errors but a plain string on some template errors.
    if isinstance(error_data, dict):
        details = error_data.get("details")
        return None if details is None else str(details)
    return None if error_data is None else str(error_data)


def details_from_body(http_status: int, body: dict[str, Any]) -> ErrorDetails:
    """Read Meta's ``{"error": {...}}`` envelope defensively into :class:`ErrorDetails`."""
    raw = body.get("error")
    error: dict[str, Any] = raw if isinstance(raw, dict) else {}
    transient = error.get("is_transient")
    return ErrorDetails(
        http_status=http_status,
        code=_int_or_none(error.get("code")),
        error_subcode=_int_or_none(error.get("error_subcode")),
        type=error.get("type"),
        message=str(error.get("message") or f"HTTP {http_status} without a message"),
        title=error.get("error_user_title"),
        user_message=error.get("error_user_msg"),
        details=_details_of(error.get("error_data")),
        fbtrace_id=error.get("fbtrace_id"),
        is_transient=transient if isinstance(transient, bool) else None,
    )


def from_response(http_status: int, body: dict[str, Any]) -> CloudApiFailure:
    """Turn an error answer of the Graph API into its typed error."""
    return classify(details_from_body(http_status, body))


def unexpected_body(http_status: int, snippet: str) -> UnexpectedResponse:
    """Error for a body that is not JSON (an HTML page from a proxy, say)."""
    message = f"HTTP {http_status} with a non-JSON body: {snippet[:120]!r}"
    return UnexpectedResponse(ErrorDetails(http_status=http_status, message=message))


def timed_out(endpoint: str, seconds: float) -> RequestTimedOut:
    """Error for a call that got no answer within its timeout."""
    message = f"{endpoint}: no answer within {seconds:g} s (outcome unknown)"
    return RequestTimedOut(ErrorDetails(http_status=0, message=message))


def connection_failed(endpoint: str, reason: str) -> ConnectionFailed:
    """Error for a refused or broken connection."""
    return ConnectionFailed(ErrorDetails(http_status=0, message=f"{endpoint}: {reason}"))
