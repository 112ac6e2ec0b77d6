"""/api/metrics answers allow-listed addresses (loopback by default) or the metrics token."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from web.conftest import ServeWith

NOT_LOOPBACK = "10.0.0.0/8"  # the tests' client (127.0.0.1) is "elsewhere" for this list


def test_loopback_reads_metrics_by_default(anonymous: httpx.Client) -> None:
    assert anonymous.get("/api/metrics").status_code == 200


def test_an_address_not_listed_without_a_token_setting_is_refused(serve_with: ServeWith) -> None:
    with serve_with(metrics_allow=NOT_LOOPBACK) as url:
        answer = httpx.get(f"{url}/api/metrics")
    assert answer.status_code == 403
    assert "ovenai_" not in answer.text


def test_an_address_not_listed_needs_the_token(serve_with: ServeWith) -> None:
    token = SecretStr("metrics-token-for-tests")
    with serve_with(metrics_allow=NOT_LOOPBACK, metrics_token=token) as url:
        missing = httpx.get(f"{url}/api/metrics")
        wrong = httpx.get(f"{url}/api/metrics", headers={"Authorization": "Bearer nope"})
        right = httpx.get(
            f"{url}/api/metrics", headers={"Authorization": "Bearer metrics-token-for-tests"}
        )
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert right.status_code == 200
    assert "ovenai_webhook_rejected_total" in right.text
