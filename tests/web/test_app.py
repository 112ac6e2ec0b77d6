"""The application as a whole: health, security headers, unknown routes."""

from __future__ import annotations

import httpx

from ovenai.endpoints import WEBHOOK_PATH


def test_health_reports_a_real_database_check(anonymous: httpx.Client) -> None:
    answer = anonymous.get("/health")
    assert answer.status_code == 200
    body = answer.json()
    # No worker runs beside this test server, so "workers" and "graph_api" say degraded.
    assert body["status"] == "degraded"
    assert {name for name, check in body["checks"].items() if check["status"] != "ok"} == {
        "workers",
        "graph_api",
    }
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["dialect"] in ("sqlite", "postgresql")


def test_every_answer_carries_security_headers(anonymous: httpx.Client) -> None:
    for path in ("/health", "/api/v1/leads", "/nope"):
        headers = anonymous.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_answers_that_may_carry_personal_data_are_never_stored(
    admin: httpx.Client, anonymous: httpx.Client
) -> None:
    answers = [
        admin.get("/api/v1/leads"),
        anonymous.get("/login"),
        anonymous.get("/"),
        anonymous.get("/nope"),
        anonymous.post(WEBHOOK_PATH, content=b"{}"),  # 401: unsigned
    ]
    for answer in answers:
        assert answer.headers["cache-control"] == "no-store", answer.url


def test_static_files_keep_their_own_caching(anonymous: httpx.Client) -> None:
    answer = anonymous.get("/static/app.css")
    assert answer.status_code == 200
    assert "cache-control" not in answer.headers
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_metrics_are_exposed_for_prometheus(anonymous: httpx.Client) -> None:
    answer = anonymous.get("/api/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "ovenai_webhook_rejected_total" in answer.text
    assert "ovenai_cloudapi_requests_total" in answer.text
