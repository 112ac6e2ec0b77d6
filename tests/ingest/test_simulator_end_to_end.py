"""The simulator (Meta's stand-in) delivers signed webhooks, duplicated and reordered, to the
live product; every message lands once, in its lead's conversation."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text

from ovenai.endpoints import WEBHOOK_PATH
from ovenai.engines import sync_url
from ovenai.simulator import SimulatorConfig, SimulatorThread


@pytest.fixture
def simulator(server) -> Iterator[httpx.Client]:
    config = SimulatorConfig(
        app_secret="test-app-secret",
        webhook_url=f"{server.url}{WEBHOOK_PATH}",
        webhook_retry_base_s=0.02,
        webhook_batch_wait_s=0.01,
        template_review_s=None,
    )
    with SimulatorThread(config) as running, httpx.Client(base_url=running.base_url) as control:
        yield control


def rows(settings, sql: str) -> list[tuple]:
    engine = create_engine(sync_url(settings.database_url))
    with engine.connect() as conn:
        found = [tuple(row) for row in conn.execute(text(sql)).all()]
    engine.dispose()
    return found


def test_duplicated_and_reordered_deliveries_land_once(clean_db, simulator) -> None:
    fault = {"duplicate_webhooks": True, "reorder_webhooks": True, "count": None}
    assert simulator.post("/_sim/faults", json=fault).status_code == 200
    for n, words in enumerate(("שלום 👋", "יש חניה?", "ומה המחיר?")):
        spec = {"from": "972521234567", "name": "נועה", "type": "text", "text": words}
        assert simulator.post("/_sim/inbound", json=spec).status_code == 200, n
    spec = {
        "from": "972541112233",
        "name": "Dan",
        "type": "location",
        "latitude": 32.1,
        "longitude": 34.8,
    }
    assert simulator.post("/_sim/inbound", json=spec).status_code == 200
    deadline = time.monotonic() + 15
    while len(rows(clean_db, "SELECT id FROM messages")) < 4:
        assert time.monotonic() < deadline, rows(
            clean_db, "SELECT status, error FROM webhook_events"
        )
        time.sleep(0.05)
    time.sleep(0.3)  # let the duplicates arrive too
    assert len(rows(clean_db, "SELECT id FROM messages")) == 4
    assert len(rows(clean_db, "SELECT id FROM leads")) == 2
    assert rows(clean_db, "SELECT count(*) FROM webhook_events WHERE status = 'failed'") == [(0,)]
