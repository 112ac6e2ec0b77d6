"""Every failure reaches the caller as a typed error with Meta's fields and a verdict."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from ovenai.cloudapi import CloudApiClient, ErrorKind
from ovenai.cloudapi import errors as e
from ovenai.simulator import SimulatorThread
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio
LEAD = "+972501234567"


def welcome(**overrides: Any) -> dict[str, Any]:
    return {
        "to": LEAD,
        "name": "welcome_new_lead_he",
        "language": "he",
        "body_params": ["נועה", "הרצל"],
    } | overrides


async def test_it_fails_with_190_when_the_token_is_wrong(simulator: SimulatorThread) -> None:
    async with CloudApiClient(
        access_token="stale", phone_number_id="420000000000002", base_url=simulator.base_url
    ) as client:
        with pytest.raises(e.AccessTokenInvalid) as caught:
            await client.send_template(**welcome())
    assert (caught.value.code, caught.value.meta_http_status) == (190, 401)
    assert caught.value.kind is ErrorKind.AUTH and not caught.value.retryable
    assert "stale" not in str(caught.value) and caught.value.fbtrace_id


async def test_it_fails_with_100_and_details_when_a_field_is_missing(
    client: CloudApiClient,
) -> None:
    with pytest.raises(e.InvalidParameter) as caught:
        await client.send_raw({"to": LEAD, "type": "text", "text": {"body": "x"}})
    assert caught.value.code == 100 and "messaging_product" in (caught.value.details or "")
    assert caught.value.kind is ErrorKind.PERMANENT


async def test_it_fails_with_132000_when_the_parameter_count_differs(
    client: CloudApiClient,
) -> None:
    with pytest.raises(e.TemplateParamCountMismatch) as caught:
        await client.send_template(**welcome(body_params=["נועה"]))
    assert caught.value.code == 132000


@pytest.mark.parametrize(
    ("name", "language"), [("no_such_template", "he"), ("welcome_new_lead_he", "en")]
)
async def test_it_fails_with_132001_for_an_unknown_template_or_language(
    client: CloudApiClient, name: str, language: str
) -> None:
    with pytest.raises(e.TemplateNotFound) as caught:
        await client.send_template(**welcome(name=name, language=language))
    assert caught.value.code == 132001 and caught.value.meta_http_status == 404


@pytest.mark.parametrize("bad", ["line\nbreak", "tab\there", "five     spaces"])
async def test_it_fails_with_132018_for_newlines_tabs_and_long_spaces(
    client: CloudApiClient, bad: str
) -> None:
    with pytest.raises(e.TemplateParamInvalid):
        await client.send_template(**welcome(body_params=[bad, "הרצל"]))


async def test_it_fails_with_131047_outside_the_window(client: CloudApiClient) -> None:
    with pytest.raises(e.OutsideServiceWindow) as caught:
        await client.send_text(to=LEAD, text="hello")
    assert caught.value.code == 131047 and not caught.value.retryable


async def test_it_fails_with_131026_for_an_unreachable_number(
    client: CloudApiClient, control: SimControl
) -> None:
    await control.faults(unreachable={"numbers": [LEAD]})
    with pytest.raises(e.RecipientUnreachable):
        await client.send_template(**welcome())


async def test_it_fails_with_130429_above_the_throughput_cap(
    client: CloudApiClient, control: SimControl
) -> None:
    await control.faults(mps_cap=2)
    await client.send_template(**welcome())
    await client.send_template(**welcome(to="+972501234568"))
    with pytest.raises(e.ThroughputExceeded) as caught:
        await client.send_template(**welcome(to="+972501234569"))
    assert caught.value.kind is ErrorKind.THROTTLED and caught.value.retryable


async def test_it_fails_with_131056_when_the_pair_limit_is_hit(
    client: CloudApiClient, control: SimControl
) -> None:
    await control.config(pair_limit=1)
    await client.send_template(**welcome())
    with pytest.raises(e.PairRateLimited) as caught:
        await client.send_template(**welcome())
    assert caught.value.kind is ErrorKind.THROTTLED
    await client.send_template(**welcome(to="+972501234568"))


async def test_it_fails_with_131050_for_marketing_after_the_user_tapped_stop(
    client: CloudApiClient, control: SimControl
) -> None:
    await control.inbound(**{"from": "972501234567", "type": "user_preferences", "value": "stop"})
    marketing = welcome(name="property_details_he", body_params=["נועה", "חיפה", "4", "100", "2M"])
    with pytest.raises(e.MarketingOptedOut):
        await client.send_template(**marketing)
    await client.send_template(**welcome())
    await control.inbound(**{"from": "972501234567", "type": "user_preferences", "value": "resume"})
    await client.send_template(**marketing)


async def test_an_injected_meta_code_is_classified_by_the_table(
    client: CloudApiClient, control: SimControl
) -> None:
    await control.faults(errors=[{"code": 131000, "count": 1}])
    with pytest.raises(e.TransientError) as caught:
        await client.send_template(**welcome())
    assert (caught.value.code, caught.value.meta_http_status) == (131000, 500)
    await client.send_template(**welcome())


async def test_a_bare_5xx_without_a_code_is_transient(
    client: CloudApiClient, control: SimControl
) -> None:
    await control.faults(http_status={"status": 503})
    with pytest.raises(e.TransientError) as caught:
        await client.send_template(**welcome())
    assert caught.value.code is None and caught.value.meta_http_status == 503


async def test_an_html_error_page_is_an_unexpected_response(
    client: CloudApiClient, control: SimControl
) -> None:
    await control.faults(html={"status": 502})
    with pytest.raises(e.UnexpectedResponse) as caught:
        await client.send_template(**welcome())
    assert caught.value.meta_http_status == 502 and "Bad Gateway" in str(caught.value)


@pytest.mark.parametrize("status", [200, 500])
async def test_a_non_json_body_is_an_unexpected_response(
    client: CloudApiClient, control: SimControl, status: int
) -> None:
    await control.faults(non_json={"status": status})
    with pytest.raises(e.UnexpectedResponse) as caught:
        await client.send_template(**welcome())
    assert caught.value.retryable and caught.value.meta_http_status == status


async def test_a_hang_becomes_a_timeout(simulator: SimulatorThread, control: SimControl) -> None:
    await control.faults(latency={"ms": 1000})
    async with CloudApiClient(
        access_token="test-token",
        phone_number_id="420000000000002",
        base_url=simulator.base_url,
        timeout=0.2,
    ) as client:
        with pytest.raises(e.RequestTimedOut) as caught:
            await client.send_template(**welcome())
    assert caught.value.kind is ErrorKind.TRANSIENT


async def test_a_refused_connection_is_a_connection_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = "EAAG-connection-test-token-5f3a9c"
    async with CloudApiClient(
        access_token=token, phone_number_id="1", base_url=f"http://127.0.0.1:{port}"
    ) as client:
        with pytest.raises(e.ConnectionFailed) as caught:
            await client.send_template(**welcome())
    failure = caught.value
    assert failure.retryable and failure.kind is ErrorKind.TRANSIENT
    assert failure.message.startswith("send_template: ConnectionRefusedError")
    # Whatever reaches logs or an API answer keeps the token out.
    shown = (str(failure), repr(failure), failure.message, str(failure.to_dict()))
    assert not [text for text in shown if token in text]


async def test_an_expired_graph_version_is_refused(simulator: SimulatorThread) -> None:
    async with CloudApiClient(
        access_token="test-token",
        phone_number_id="420000000000002",
        base_url=simulator.base_url,
        api_version="v17.0",
    ) as client:
        with pytest.raises(e.InvalidParameter) as caught:
            await client.send_template(**welcome())
    assert "v17.0" in (caught.value.details or "")
