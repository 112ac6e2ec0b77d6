"""The application as a whole: health, security headers, unknown routes."""

from __future__ import annotations

import httpx


def test_health_reports_a_real_database_check(anonymous: httpx.Client) -> None:
    answer = anonymous.get("/health")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["dialect"] in ("sqlite", "postgresql")


def test_every_answer_carries_security_headers(anonymous: httpx.Client) -> None:
    for path in ("/health", "/api/v1/leads", "/nope"):
        headers = anonymous.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_metrics_are_exposed_for_prometheus(anonymous: httpx.Client) -> None:
    answer = anonymous.get("/api/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "ovenai_webhook_rejected_total" in answer.text
    assert "ovenai_cloudapi_requests_total" in answer.text
