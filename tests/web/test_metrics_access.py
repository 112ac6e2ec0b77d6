"""/api/metrics answers allow-listed addresses (loopback by default) or the metrics token."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from pydantic import SecretStr

from ovenai import signin
from support.aio import run_async
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


TOKEN = "metrics-token-for-tests"


async def _metrics_burst(url: str, tokens: list[str]) -> Counter[int]:
    """GET /api/metrics with every token at once; the status codes counted."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def get(token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            return (await client.get("/api/metrics", headers=headers)).status_code

        return Counter(await asyncio.gather(*(get(token) for token in tokens)))


def test_a_burst_of_wrong_metrics_tokens_checks_only_the_limit(serve_with: ServeWith) -> None:
    limit = signin.MAX_TOKEN_FAILURES_PER_ADDRESS
    with serve_with(metrics_allow=NOT_LOOPBACK, metrics_token=SecretStr(TOKEN)) as url:
        codes = run_async(lambda: _metrics_burst(url, [f"guess-{i}" for i in range(limit + 20)]))
        right_after = run_async(lambda: _metrics_burst(url, [TOKEN]))
    assert codes == {401: limit, 429: 20}
    assert right_after == {429: 1}  # the address is refused even the right token now


def test_the_right_metrics_token_is_never_counted(serve_with: ServeWith) -> None:
    scrapes = signin.MAX_TOKEN_FAILURES_PER_ADDRESS + 5
    with serve_with(metrics_allow=NOT_LOOPBACK, metrics_token=SecretStr(TOKEN)) as url:
        codes = run_async(lambda: _metrics_burst(url, [TOKEN] * scrapes))
        wrong = httpx.get(f"{url}/api/metrics", headers={"Authorization": "Bearer nope"})
    assert codes == {200: scrapes}
    assert wrong.status_code == 401
