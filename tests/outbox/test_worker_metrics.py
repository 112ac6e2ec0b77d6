"""A worker process serves its own metrics: what it sent, what Meta refused, and why."""

from __future__ import annotations

import asyncio
import signal
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import free_port
from tests.outbox.conftest import make_lead, recently, send
from tests.outbox.test_worker_crash import start_worker

from ovenai.db import Database
from ovenai.settings import Settings
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=2) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_the_worker_counts_its_sends_and_metas_error_codes(
    db: Database, sim_settings: Settings, control: SimControl
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    await control.inbound(**{"from": lead.phone, "type": "text", "text": "hi", "wait": False})
    await control.faults(errors=[{"code": 131026, "count": 1, "status": 400}])
    await send(db, lead.id, text="first")  # refused: undeliverable
    port = free_port()
    listen = sim_settings.model_copy(update={"worker_metrics_listen": f"127.0.0.1:{port}"})
    worker = start_worker(listen)
    url = f"http://127.0.0.1:{port}/metrics"
    sends = "ovenai_outbox_sends_total"
    failed = (sends, (("kind", "text"), ("outcome", "failed"), ("template", "")))
    accepted = (sends, (("kind", "text"), ("outcome", "accepted"), ("template", "")))
    try:
        deadline = time.monotonic() + 20
        samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        while samples.get(failed) != 1.0:
            assert time.monotonic() < deadline, "the worker's metrics never showed the failure"
            await asyncio.sleep(0.1)
            try:
                samples = _scrape(url)
            except (urllib.error.URLError, ConnectionError):
                continue  # not listening yet
        await send(db, lead.id, text="second")
        while samples.get(accepted) != 1.0:
            assert time.monotonic() < deadline, "the worker's metrics never showed the send"
            await asyncio.sleep(0.1)
            samples = _scrape(url)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=15)

    assert samples[("ovenai_outbox_errors_total", (("code", "131026"),))] == 1.0
    calls = "ovenai_cloudapi_requests_total"
    assert samples[(calls, (("endpoint", "send_text"), ("outcome", "ok")))] == 1.0
    assert samples[(calls, (("endpoint", "send_text"), ("outcome", "permanent")))] == 1.0
