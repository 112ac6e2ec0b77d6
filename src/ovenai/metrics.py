"""Prometheus metric objects of OvenAI (registered once, at import, in the default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CLOUDAPI_REQUESTS = Counter(
    "ovenai_cloudapi_requests_total",
    "Graph API calls by endpoint kind and outcome (ok or the error kind).",
    ["endpoint", "outcome"],
)

CLOUDAPI_LATENCY = Histogram(
    "ovenai_cloudapi_request_duration_seconds",
    "Latency of Graph API calls by endpoint kind, including failures.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
