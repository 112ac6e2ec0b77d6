"""The product's metrics, the worker's own listener, and the monitoring files shipped for
teams with their own Prometheus and Grafana (every series they use must exist)."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from tests.conftest import free_port

from ovenai import metrics
from ovenai.errors import ConfigurationError

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
SERIES = re.compile(r"\bovenai_[a-z_]+\b")
SUFFIXES = ("", "_total", "_bucket", "_count", "_sum", "_created")


def _exposed() -> set[str]:
    """Every series name the product's registry can expose."""
    families = [family.name for family in REGISTRY.collect()]
    return {name + suffix for name in families for suffix in SUFFIXES}


def _alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((DEPLOY / "prometheus" / "ovenai-alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "ovenai-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_every_alert_rule_is_complete_and_uses_series_the_product_exposes() -> None:
    rules = _alert_rules()
    exposed = _exposed()

    assert len({rule["alert"] for rule in rules}) == len(rules) >= 8
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        used = set(SERIES.findall(rule["expr"]))
        scrape_only = rule["expr"].startswith("up{")  # the scrape itself failing
        assert (used or scrape_only) and used <= exposed, (rule["alert"], used - exposed)


def test_every_dashboard_panel_uses_series_the_product_exposes() -> None:
    exprs = _dashboard_exprs()
    exposed = _exposed()

    assert len(exprs) >= 14
    for expr in exprs:
        used = set(SERIES.findall(expr))
        assert used and used <= exposed, (expr, used - exposed)


def test_the_workers_listener_serves_the_registry_and_stops() -> None:
    port = free_port()
    stop = metrics.serve_metrics(f"127.0.0.1:{port}")
    try:
        metrics.OUTBOX_ERRORS.labels(code="131026").inc()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            text = answer.read().decode()
    finally:
        stop()
    assert 'ovenai_outbox_errors_total{code="131026"}' in text
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


@pytest.mark.parametrize("listen", ["9464", "127.0.0.1:", ":9464", "127.0.0.1:port"])
def test_a_listener_address_without_host_and_port_is_refused(listen: str) -> None:
    with pytest.raises(ConfigurationError, match="HOST:PORT"):
        metrics.serve_metrics(listen)
