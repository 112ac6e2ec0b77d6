"""Meta's error codes → our error class, table-driven from the repo's reading of Meta's table.

The rows are docs/whatsapp-api-notes.md ("Errors › Retry verdicts") and the class tree of
``ovenai.cloudapi.errors``, written out here code by code rather than read from
``classify.ERROR_TABLE``: a test that read the table it checks could not catch a wrong row.
The "permanent … and the rest" row is every other code on Meta's "Cloud API › Support ›
Error codes" page (ranges by their first, a middle and their last code).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ovenai.cloudapi import ErrorKind, classify
from ovenai.cloudapi import errors as e

AUTH, THROTTLED, TRANSIENT = ErrorKind.AUTH, ErrorKind.THROTTLED, ErrorKind.TRANSIENT
DEFERRED, PERMANENT = ErrorKind.DEFERRED, ErrorKind.PERMANENT

# code → (the class the caller catches, kind, retryable), as the notes read each code.
NAMED: dict[int, tuple[type[e.CloudApiFailure], ErrorKind, bool]] = {
    # auth: pause all sending (0, 10, 190 token expired or invalid, 200-299, 131005)
    0: (e.AuthError, AUTH, False),
    10: (e.AuthError, AUTH, False),
    190: (e.AccessTokenInvalid, AUTH, False),
    200: (e.AuthError, AUTH, False),
    245: (e.AuthError, AUTH, False),
    299: (e.AuthError, AUTH, False),
    131005: (e.AuthError, AUTH, False),
    # throttled: Graph call limits, the number's throughput, the pair limit
    4: (e.ThrottledError, THROTTLED, True),
    613: (e.ThrottledError, THROTTLED, True),
    80007: (e.ThrottledError, THROTTLED, True),
    130429: (e.ThroughputExceeded, THROTTLED, True),
    131056: (e.PairRateLimited, THROTTLED, True),
    # transient: backoff, then failed
    1: (e.TransientError, TRANSIENT, True),
    2: (e.TransientError, TRANSIENT, True),
    131000: (e.TransientError, TRANSIENT, True),
    131016: (e.TransientError, TRANSIENT, True),
    131057: (e.TransientError, TRANSIENT, True),
    133004: (e.TransientError, TRANSIENT, True),
    133015: (e.TransientError, TRANSIENT, True),
    2494100: (e.TransientError, TRANSIENT, True),
    # deferred: quality or policy signals
    368: (e.DeferredError, DEFERRED, False),
    131048: (e.DeferredError, DEFERRED, False),
    131049: (e.DeferredError, DEFERRED, True),
    131064: (e.DeferredError, DEFERRED, False),
    132015: (e.DeferredError, DEFERRED, False),
    132069: (e.DeferredError, DEFERRED, True),
    133008: (e.DeferredError, DEFERRED, False),
    133009: (e.DeferredError, DEFERRED, False),
    133016: (e.DeferredError, DEFERRED, False),
    134101: (e.DeferredError, DEFERRED, True),
    # permanent, with the classes callers catch by name
    100: (e.InvalidParameter, PERMANENT, False),
    131008: (e.PermanentError, PERMANENT, False),
    131009: (e.PermanentError, PERMANENT, False),
    131026: (e.RecipientUnreachable, PERMANENT, False),
    131047: (e.OutsideServiceWindow, PERMANENT, False),
    131050: (e.MarketingOptedOut, PERMANENT, False),
    131062: (e.PermanentError, PERMANENT, False),
    132000: (e.TemplateParamCountMismatch, PERMANENT, False),
    132001: (e.TemplateNotFound, PERMANENT, False),
    132018: (e.TemplateParamInvalid, PERMANENT, False),
}
# "… and the rest": every other code of Meta's page is permanent.
THE_REST = [
    3, 33, 130403, 130472, 130497, 131021, 131030, 131031, 131037, 131042, 131044, 131045,
    131051, 131052, 131053, 131055, 131059, 131063, 132005, 132007, 132008, 132012, 132016,
    132068, 133000, 133001, 133002, 133003, 133005, 133006, 133007, 133010, 133011, 133012,
    133014, 134011, 134100, 134102, 135000, 137000, 138000, 138009, 138018, 139000, 139002,
    139004, 139100, 139101, 139102, 147001, 147003, 147005, 2388012, 2388040, 2388103,
    2388293, 2388296, 2388299,
]  # fmt: skip
# Codes the notes do not name, with the verdict the classifier gives them today: pinned, so
# that changing them is a decision (and the notes get the row they lack).
NOT_IN_THE_NOTES: dict[int, tuple[type[e.CloudApiFailure], ErrorKind, bool]] = {
    139103: (e.TransientError, TRANSIENT, True),
    470: (e.OutsideServiceWindow, PERMANENT, False),
}
TABLE = NAMED | dict.fromkeys(THE_REST, (e.PermanentError, PERMANENT, False)) | NOT_IN_THE_NOTES
# Meta asks clients to decide by code, not by HTTP status: the same code under any status.
STATUSES = [400, 401, 403, 404, 429, 500, 503]


# Meta's ranges of codes: auth 200-299, and permanent ones; the rows above sample them.
_PERMANENT_RANGES = [
    (133001, 133003), (133011, 133014), (134100, 134102), (138000, 138018), (139000, 139004),
    (139100, 139102), (147001, 147005), (2388012, 2388103), (2388293, 2388299),
]  # fmt: skip


def documented(code: int) -> bool:
    """Whether Meta's page lists the code (as a row above or inside one of its ranges)."""
    in_a_range = any(low <= code <= high for low, high in _PERMANENT_RANGES)
    return code in TABLE or 200 <= code <= 299 or in_a_range


def answer(status: int, code: int | str | None, **fields: object) -> e.CloudApiFailure:
    error: dict[str, object] = {"message": f"(#{code}) something", **fields}
    if code is not None:
        error["code"] = code
    return classify.from_response(status, {"error": error})


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("code", sorted(TABLE))
def test_each_code_gets_its_class_whatever_the_http_status(code: int, status: int) -> None:
    cls, kind, retryable = TABLE[code]
    error = answer(status, code)
    assert type(error) is cls
    assert (error.kind, error.retryable) == (kind, retryable)
    assert (error.code, error.meta_http_status) == (code, status)


@pytest.mark.parametrize("code", sorted(NAMED))
def test_a_code_sent_as_a_string_is_read_as_the_number(code: int) -> None:
    cls, kind, _ = NAMED[code]
    error = answer(400, str(code))
    assert (type(error), error.kind, error.code) == (cls, kind, code)


def test_the_classifier_knows_no_code_these_rows_leave_out() -> None:
    assert [code for code in classify.ERROR_TABLE if not documented(code)] == []


def test_every_code_from_200_to_299_is_a_missing_permission() -> None:
    assert [code for code in range(200, 300) if type(answer(400, code)) is not e.AuthError] == []


@pytest.mark.parametrize(("low", "high"), _PERMANENT_RANGES)
def test_every_code_of_a_permanent_range_is_permanent(low: int, high: int) -> None:
    for code in range(low, high + 1):
        if code in NAMED or code in NOT_IN_THE_NOTES:
            continue  # 134101 inside 134100-134102 is deferred (a documented wait)
        assert type(answer(400, code)) is e.PermanentError, code


# -- codes Meta has not listed: the HTTP status decides ---------------------------------

FALLBACK = [
    (429, e.ThrottledError, THROTTLED, True),
    (401, e.AuthError, AUTH, False),
    (403, e.AuthError, AUTH, False),
    (500, e.TransientError, TRANSIENT, True),
    (502, e.TransientError, TRANSIENT, True),
    (503, e.TransientError, TRANSIENT, True),
    (504, e.TransientError, TRANSIENT, True),
    (599, e.TransientError, TRANSIENT, True),
    (400, e.PermanentError, PERMANENT, False),
    (404, e.PermanentError, PERMANENT, False),
    (409, e.PermanentError, PERMANENT, False),
    (422, e.PermanentError, PERMANENT, False),
    (499, e.PermanentError, PERMANENT, False),
]


@pytest.mark.parametrize("code", [999999, None, "not-a-number"])
@pytest.mark.parametrize(("status", "cls", "kind", "retryable"), FALLBACK)
def test_an_unlisted_or_missing_code_is_classified_by_http_status(
    code: int | str | None,
    status: int,
    cls: type[e.CloudApiFailure],
    kind: ErrorKind,
    retryable: bool,
) -> None:
    error = answer(status, code)
    assert (type(error), error.kind, error.retryable) == (cls, kind, retryable)


@given(
    code=st.integers(min_value=-(2**40), max_value=2**40).filter(lambda c: not documented(c)),
    status=st.integers(min_value=400, max_value=599),
)
def test_any_unlisted_code_follows_the_status_rule(code: int, status: int) -> None:
    error = answer(status, code)
    if status == 429:
        expected: ErrorKind = THROTTLED
    elif status in (401, 403):
        expected = AUTH
    elif status >= 500:
        expected = TRANSIENT
    else:
        expected = PERMANENT
    assert error.kind is expected
    assert error.retryable is (expected in (THROTTLED, TRANSIENT))


def test_the_is_transient_flag_does_not_override_the_code() -> None:
    # Meta's envelope may say is_transient; the verdict still follows the code.
    assert answer(400, 131047, is_transient=True).kind is PERMANENT
    assert answer(400, 131000, is_transient=False).kind is TRANSIENT


# -- what the transport makes of an answer that is not Meta's JSON ------------------------


def test_timeouts_broken_connections_and_html_pages_are_transient() -> None:
    for error in (
        classify.timed_out("send_text", 5.0),
        classify.connection_failed("send_text", "ConnectionResetError: reset"),
        classify.unexpected_body(502, "<html>Bad gateway</html>"),
    ):
        assert (error.kind, error.retryable) == (TRANSIENT, True)
        assert error.meta_http_status in (0, 502)


def test_a_span_of_codes_runs_from_its_first_to_its_last_code() -> None:
    rule: classify.Rule = (e.PermanentError, False)
    assert classify._span(133011, 133014, rule) == dict.fromkeys(range(133011, 133015), rule)


def test_the_envelope_keeps_what_meta_says_and_nothing_it_did_not() -> None:
    said = classify.details_from_body(
        503, {"error": {"is_transient": True, "error_data": {"details": "try later"}}}
    )
    assert (said.is_transient, said.details) == (True, "try later")
    unsaid = classify.details_from_body(
        400, {"error": {"is_transient": "yes", "error_data": {"details": None}}}
    )
    assert (unsaid.is_transient, unsaid.details) == (None, None)
    assert classify.details_from_body(400, {"error": {"error_data": None}}).details is None


def test_the_failures_without_an_answer_say_what_happened() -> None:
    page = "<html>" + "x" * 300
    assert classify.unexpected_body(502, page).info.message == (
        f"HTTP 502 with a non-JSON body: {page[:120]!r}"
    )
    assert classify.timed_out("send_text", 5.0).info.message == (
        "send_text: no answer within 5 s (outcome unknown)"
    )
