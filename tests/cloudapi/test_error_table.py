"""The code table covers Meta's list, unknown codes fall back to the HTTP status."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from ovenai.cloudapi import CloudApiClient, ErrorKind, classify
from ovenai.cloudapi import errors as e
from ovenai.errors import CloudApiError

pytestmark = pytest.mark.anyio

# Every code on Meta's "Cloud API › Support › Error codes" page (ranges expanded at their ends).
DOCUMENTED = [
    0,
    1,
    2,
    3,
    4,
    10,
    33,
    100,
    190,
    200,
    250,
    299,
    368,
    613,
    80007,
    130403,
    130429,
    130472,
    130497,
    131000,
    131005,
    131008,
    131009,
    131016,
    131021,
    131026,
    131030,
    131031,
    131037,
    131042,
    131044,
    131045,
    131047,
    131048,
    131049,
    131050,
    131051,
    131052,
    131053,
    131055,
    131056,
    131057,
    131059,
    131062,
    131063,
    131064,
    132000,
    132001,
    132005,
    132007,
    132008,
    132012,
    132015,
    132016,
    132018,
    132068,
    132069,
    133000,
    133001,
    133003,
    133004,
    133005,
    133006,
    133007,
    133008,
    133009,
    133010,
    133011,
    133014,
    133015,
    133016,
    134011,
    134100,
    134101,
    134102,
    135000,
    137000,
    138000,
    138018,
    139000,
    139004,
    139100,
    139103,
    147001,
    147005,
    2388012,
    2388019,
    2388039,
    2388040,
    2388047,
    2388072,
    2388073,
    2388103,
    2388293,
    2388299,
    2494100,
    470,
]


def test_the_table_covers_every_documented_code() -> None:
    missing = [code for code in DOCUMENTED if code not in classify.ERROR_TABLE]
    assert missing == []


@pytest.mark.parametrize(
    ("code", "kind", "retryable"),
    [
        (190, ErrorKind.AUTH, False),
        (130429, ErrorKind.THROTTLED, True),
        (131056, ErrorKind.THROTTLED, True),
        (80007, ErrorKind.THROTTLED, True),
        (131000, ErrorKind.TRANSIENT, True),
        (131016, ErrorKind.TRANSIENT, True),
        (131049, ErrorKind.DEFERRED, True),
        (131047, ErrorKind.PERMANENT, False),
        (132018, ErrorKind.PERMANENT, False),
        (131051, ErrorKind.PERMANENT, False),
    ],
)
def test_known_codes_get_their_verdict(code: int, kind: ErrorKind, retryable: bool) -> None:
    error = classify.from_response(400, {"error": {"code": code, "message": f"(#{code}) x"}})
    assert (error.kind, error.retryable) == (kind, retryable)
    assert isinstance(error, CloudApiError)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, ErrorKind.THROTTLED), (503, ErrorKind.TRANSIENT), (400, ErrorKind.PERMANENT)],
)
def test_unknown_codes_are_classified_by_http_status(status: int, kind: ErrorKind) -> None:
    assert classify.from_response(status, {"error": {"code": 999999}}).kind is kind


def test_it_reads_every_field_of_the_envelope_and_a_string_error_data() -> None:
    error = classify.from_response(
        400,
        {
            "error": {
                "message": "(#100) Invalid parameter",
                "type": "OAuthException",
                "code": 100,
                "error_subcode": 2388024,
                "error_user_title": "Duplicate",
                "error_user_msg": "exists",
                "error_data": "Content in this language already exists.",
                "fbtrace_id": "Atrace",
            }
        },
    )
    assert isinstance(error, e.InvalidParameter)
    assert error.info == e.ErrorDetails(
        http_status=400,
        code=100,
        error_subcode=2388024,
        type="OAuthException",
        message="(#100) Invalid parameter",
        title="Duplicate",
        user_message="exists",
        details="Content in this language already exists.",
        fbtrace_id="Atrace",
    )
    assert error.to_dict()["kind"] == "permanent"


def _count(endpoint: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "ovenai_cloudapi_requests_total", {"endpoint": endpoint, "outcome": outcome}
    )
    return value or 0.0


async def test_each_call_is_counted_by_endpoint_and_outcome(client: CloudApiClient) -> None:
    ok_before = _count("send_template", "ok")
    failed_before = _count("send_text", "permanent")
    await client.send_template(
        to="+972501234567", name="welcome_new_lead_en", language="en", body_params=["Noa", "Haifa"]
    )
    with pytest.raises(e.OutsideServiceWindow):
        await client.send_text(to="+972501234567", text="hi")
    assert _count("send_template", "ok") == ok_before + 1
    assert _count("send_text", "permanent") == failed_before + 1
    histogram = REGISTRY.get_sample_value(
        "ovenai_cloudapi_request_duration_seconds_count", {"endpoint": "send_template"}
    )
    assert histogram is not None and histogram >= 1
