"""X-Forwarded-For is believed only from OVENAI_TRUSTED_PROXIES (none by default).

The client's address decides who may read /api/metrics (and whose failures the throttles
count), so the metrics allow-list shows which address the product saw.
"""

from __future__ import annotations

import httpx

from web.conftest import ServeWith

CLAIMED = "203.0.113.7"
ONLY_CLAIMED = {"metrics_allow": f"{CLAIMED}/32"}


def _metrics_claiming(url: str, address: str) -> int:
    answer = httpx.get(f"{url}/api/metrics", headers={"X-Forwarded-For": address})
    return answer.status_code


def test_a_client_cannot_set_its_address_by_default(serve_with: ServeWith) -> None:
    with serve_with(**ONLY_CLAIMED) as url:
        assert _metrics_claiming(url, CLAIMED) == 403


def test_a_client_outside_the_trusted_list_cannot_set_its_address(
    serve_with: ServeWith,
) -> None:
    with serve_with(**ONLY_CLAIMED, trusted_proxies="10.0.0.0/8") as url:
        assert _metrics_claiming(url, CLAIMED) == 403


def test_a_trusted_proxy_sets_the_client_address(serve_with: ServeWith) -> None:
    with serve_with(**ONLY_CLAIMED, trusted_proxies="127.0.0.1/32") as url:
        assert _metrics_claiming(url, CLAIMED) == 200
        # The proxy appends what it saw; an address the client put first is not believed.
        assert _metrics_claiming(url, f"{CLAIMED}, 198.51.100.9") == 403
