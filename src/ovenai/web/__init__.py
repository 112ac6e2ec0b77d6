"""The HTTP surface: webhooks, REST API, dashboard, health and metrics."""
