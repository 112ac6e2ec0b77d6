"""The key figures and the first-response alert read messages as the product writes them:
sent through the real outbox to the simulator, one refused by Meta, a lead's message
applied from a webhook (never rows spelled by the test)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from tests.outbox.conftest import dispatcher, make_lead, recently, send

from ingest.conftest import Bodies, Harness
from ovenai import graph_times, kpis, response_turns
from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient, timings
from ovenai.columns import utcnow
from ovenai.db import Database
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio


async def test_a_period_counts_the_outbox_sends_and_the_leads_replies(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    leads = [await make_lead(db, wrote_at=recently()) for _ in range(2)]
    for lead in leads:  # the simulator's own 24-hour window is open too
        await control.inbound(**{"from": lead.phone, "type": "text", "text": "hi", "wait": False})
    await control.faults(errors=[{"code": 131026, "count": 1}])  # the first send fails
    for lead in leads:
        await send(db, lead.id, text="שלום, הדירה עדיין פנויה")
    await dispatcher(db, client).drain()
    await asyncio.sleep(1.1)  # the lead answers later (Meta's timestamps: whole seconds)
    wa_id = (leads[1].phone or "").lstrip("+")
    reply = Bodies.text(
        "wamid.reply.1", "מתי אפשר לראות?", wa_id=wa_id, user_id=None, ts=int(time.time())
    )
    await Harness(db).deliver(reply)

    now = utcnow()
    admin = Actor.system()
    live = await kpis.report(db, actor=admin, start=now - timedelta(hours=2), end=now)
    await response_turns.refresh(db)  # and again from what the worker's job keeps
    kept = await kpis.report(db, actor=admin, start=now - timedelta(hours=2), end=now)

    for figures in (live, kept):
        assert (figures.cohort, figures.failed) == (2, 1)
        assert [error.code for error in figures.top_errors] == [131026]
        assert (figures.leads_written, figures.leads_replied) == (1, 1)


async def test_meta_s_answer_times_of_real_sends_are_in_the_key_figures(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    """The transport times each call, the worker's writer stores the times, the report reads
    them: three sends the simulator answers slowly, the first of them refused."""
    timings.take()  # what earlier tests of this process left
    lead = await make_lead(db, wrote_at=recently())
    await control.inbound(**{"from": lead.phone, "type": "text", "text": "hi", "wait": False})
    await control.faults(latency={"ms": 150, "count": 3})
    await control.faults(errors=[{"code": 131000, "count": 1}])  # retried later
    for n in range(3):
        await send(db, lead.id, text=f"שלום {n}")
    before = utcnow()
    await dispatcher(db, client).drain()

    stop = asyncio.Event()
    writer = asyncio.create_task(graph_times.keep_storing(db, stop))
    stop.set()  # its last turn stores what was held
    await writer

    hour = before.replace(minute=0, second=0, microsecond=0)
    figures = await kpis.report(
        db, actor=Actor.system(), start=hour, end=utcnow() + timedelta(seconds=1)
    )
    graph = figures.graph_api
    assert graph.count >= 3 and figures.graph_api_failed == 1
    assert graph.median_s is not None and graph.median_s >= 0.15
    assert timings.take() == []
