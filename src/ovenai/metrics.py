"""Prometheus metric objects of OvenAI (registered once, at import, in the default registry)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from ovenai.errors import ConfigurationError

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

# The outbox (counted by the worker that sends): each attempt's outcome, by kind of message
# and template (a small, fixed set of names), and Meta's error code of each failure.
OUTBOX_SENDS = Counter(
    "ovenai_outbox_sends_total",
    "Send attempts by message kind, template and outcome (accepted, failed, retry, "
    "throttled, paused, refused).",
    ["kind", "template", "outcome"],
)

OUTBOX_ERRORS = Counter(
    "ovenai_outbox_errors_total",
    "Graph API errors met by sends, by Meta's error code (0: no answer).",
    ["code"],
)

OUTBOX_LIMIT_WAITS = Histogram(
    "ovenai_outbox_limit_wait_seconds",
    "How long the rate limits held a claimed message before its send.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 3600.0),
)

OUTBOX_GIVEN_BACK = Counter(
    "ovenai_outbox_given_back_total",
    "Claimed messages given back to the queue unsent, by reason (late: half the claim ran "
    "out before the message's slot; stopping: the worker stopped).",
    ["reason"],
)

OUTBOX_DEPTH = Gauge(
    "ovenai_outbox_queued",
    "Queued outbound messages, due now or waiting for later (by the worker holding the "
    "outbox.gauges lease; take the max across workers).",
    ["state"],
)

OUTBOX_OLDEST_DUE_AGE = Gauge(
    "ovenai_outbox_oldest_due_age_seconds",
    "Age of the longest-waiting due queued message (0 when none is due).",
)

# Messages as the applied webhooks tell them (counted where webhooks are applied).
MESSAGES_INBOUND = Counter(
    "ovenai_messages_inbound_total", "Inbound messages applied, by message type.", ["type"]
)

MESSAGE_STATUSES = Counter(
    "ovenai_message_statuses_total",
    "Delivery statuses applied to outbound messages (sent, delivered, read, failed).",
    ["status"],
)

AUTOMATION_FIRINGS = Counter(
    "ovenai_automation_firings_total",
    "Automation rule firings by rule key and outcome (done, skipped, failed).",
    ["rule", "outcome"],
)

ALERTS_RAISED = Counter(
    "ovenai_alerts_raised_total", "Alerts opened, by kind and severity.", ["kind", "severity"]
)

ALERT_NOTIFICATIONS = Counter(
    "ovenai_alert_notifications_total",
    "Alert notifications by channel (email, slack) and outcome (sent, retry, failed).",
    ["channel", "outcome"],
)


def serve_metrics(listen: str) -> Callable[[], None]:
    """Expose this process's metrics on ``HOST:PORT`` (a worker's own listener); the stop.

    A worker runs apart from ``serve``, so its counters (every Graph API call is a worker's)
    are scraped from here. Bind it to a private address: the listener has no token.
    """
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigurationError(f"the metrics listener must be HOST:PORT, not {listen!r}")
    server, thread = start_http_server(int(port), addr=host.strip("[]"))

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
