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

# Webhook ingestion: the acknowledgement path and the processor.
WEBHOOK_RECEIVED = Counter(
    "ovenai_webhook_received_total", "Webhook POSTs received (before any check)."
)

WEBHOOK_REJECTED = Counter(
    "ovenai_webhook_rejected_total",
    "Webhook POSTs refused, by reason (signature, too_large, malformed, unavailable).",
    ["reason"],
)

WEBHOOK_STORED = Counter(
    "ovenai_webhook_stored_total", "Verified webhook bodies stored (and acknowledged)."
)

WEBHOOK_STORE_LATENCY = Histogram(
    "ovenai_webhook_store_duration_seconds",
    "Time from a verified body to its committed row (the wait before the 200).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)

WEBHOOK_PROCESSED = Counter(
    "ovenai_webhook_processed_total",
    "Stored webhook bodies processed, by outcome (processed, retry, failed).",
    ["outcome"],
)

WEBHOOK_ITEMS = Counter(
    "ovenai_webhook_items_total",
    "Items of processed bodies, by kind (message, status, preference...) and outcome "
    "(applied, duplicate).",
    ["kind", "outcome"],
)

WEBHOOK_UNREADABLE_ITEMS = Counter(
    "ovenai_webhook_unreadable_items_total",
    "Items of processed bodies that could not be read, by item (entry, change, message, "
    "status...) and change field; a body processed again counts its items again.",
    ["item", "field"],
)

WEBHOOK_APPLY_LATENCY = Histogram(
    "ovenai_webhook_apply_delay_seconds",
    "Time from receiving a webhook body to having applied it.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0, 300.0),
)

HOOK_FAILURES = Counter(
    "ovenai_hook_failures_total", "Automation/scoring hooks that raised (isolated).", ["hook"]
)

# Sign-in: every login costs one Argon2 verification, known e-mail or not (flat timing).
PASSWORD_VERIFICATIONS = Counter(
    "ovenai_password_verifications_total",
    "Argon2 password verifications, including the dummy one for unknown e-mails.",
)
