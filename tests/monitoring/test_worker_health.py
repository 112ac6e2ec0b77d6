"""Worker heartbeats, the Graph API check and the daily template check, as /health and the
alert rules see them (the simulator plays Meta; its fault API refuses the token)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import time_machine
from pydantic import SecretStr
from sqlalchemy import update
from tests.conftest import free_port
from tests.outbox.conftest import PHONE_ID, TOKEN, WABA_ID

from ovenai import alert_rules, graph_check, health, heartbeats
from ovenai.alerts import open_alerts
from ovenai.cloudapi import CloudApiClient
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import MessageTemplate
from ovenai.settings import Settings
from ovenai.simulator import SimulatorThread
from ovenai.templates import management
from ovenai.worker import run_worker
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio


async def _open(db: Database) -> dict[str, str]:
    async with db.session() as session:
        return {alert.kind: alert.message for alert in await open_alerts(session)}


async def _health(db: Database, settings: Settings) -> health.Health:
    return await health.check(db, settings)


async def test_without_a_worker_nothing_is_sent_and_readiness_says_so(
    db: Database, clean_db: Settings
) -> None:
    found = await _health(db, clean_db)

    assert found.status == "degraded"
    assert found.checks["workers"]["status"] == "degraded"
    assert found.checks["workers"]["running"] == 0
    assert found.checks["graph_api"] == {
        "status": "degraded",
        "checked": False,
        "warning": "no worker has checked yet",
    }


async def test_a_heartbeat_goes_stale_after_a_minute_and_is_pruned_after_a_day(
    db: Database, clean_db: Settings
) -> None:
    await heartbeats.beat(db, "worker-a", utcnow())
    assert (await _health(db, clean_db)).checks["workers"]["running"] == 1

    with time_machine.travel(utcnow() + timedelta(seconds=61), tick=False):
        late = (await _health(db, clean_db)).checks["workers"]
    assert late["status"] == "degraded" and late["running"] == 0
    assert late["last_heartbeat_age_s"] >= 61

    with time_machine.travel(utcnow() + timedelta(days=1, minutes=1), tick=False):
        async with db.session() as session:
            await heartbeats.prune(session, utcnow())
            await session.commit()
            assert await heartbeats.newest_beat(session) is None


async def test_a_running_worker_beats_and_its_heartbeat_goes_when_it_stops(
    db: Database, clean_db: Settings, fresh_simulator: SimulatorThread
) -> None:
    settings = clean_db.model_copy(
        update={
            "whatsapp_access_token": SecretStr(TOKEN),
            "whatsapp_phone_number_id": PHONE_ID,
            "whatsapp_business_account_id": WABA_ID,
            "whatsapp_api_base_url": fresh_simulator.base_url,
        }
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, db, stop, timed_jobs=False))
    async with asyncio.timeout(10):
        while not (await _health(db, settings)).checks["workers"]["running"]:
            await asyncio.sleep(0.05)

    stop.set()
    await worker

    async with db.session() as session:
        assert await heartbeats.newest_beat(session) is None


async def test_a_refused_token_is_a_critical_alert_until_a_check_passes(
    db: Database, clean_db: Settings, client: CloudApiClient, control: SimControl
) -> None:
    await control.faults(errors=[{"code": 190, "count": 1, "status": 401}], endpoint="templates")

    refused = await graph_check.run(db, client, waba_id=WABA_ID)
    await alert_rules.evaluate(db, clean_db)

    assert (refused.ok, refused.code, refused.token_rejected) == (False, 190, True)
    graph = (await _health(db, clean_db)).checks["graph_api"]
    assert graph["status"] == "degraded" and graph["token_valid"] is False
    assert graph["code"] == 190
    assert "refused the access token" in (await _open(db))[alert_rules.GRAPH_API]

    passed = await graph_check.run(db, client, waba_id=WABA_ID)
    await alert_rules.evaluate(db, clean_db)

    assert passed.ok
    graph = (await _health(db, clean_db)).checks["graph_api"]
    assert graph["status"] == "ok" and graph["token_valid"] is True
    assert alert_rules.GRAPH_API not in await _open(db)
    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=False):  # nobody checks
        assert (await _health(db, clean_db)).checks["graph_api"]["status"] == "degraded"


async def test_an_unreachable_graph_api_is_told_apart_from_a_refused_token(
    db: Database, clean_db: Settings
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    async with CloudApiClient(
        access_token=TOKEN, phone_number_id=PHONE_ID, base_url=closed, timeout=2.0
    ) as nowhere:
        result = await graph_check.run(db, nowhere, waba_id=WABA_ID)
    await alert_rules.evaluate(db, clean_db)

    assert not result.ok and not result.token_rejected
    assert "could not be reached" in (await _open(db))[alert_rules.GRAPH_API]


async def test_a_paused_or_weak_seed_template_is_reported_after_the_daily_check(
    db: Database, clean_db: Settings, client: CloudApiClient
) -> None:
    settings = clean_db.model_copy(update={"whatsapp_business_account_id": WABA_ID})
    await management.sync(db, client, WABA_ID)  # the daily job's sync: all approved
    await alert_rules.evaluate(db, settings)
    assert alert_rules.TEMPLATES_NOT_APPROVED not in await _open(db)

    async with db.session() as session:  # as Meta's template webhooks would record
        named = MessageTemplate.waba_id == WABA_ID
        await session.execute(
            update(MessageTemplate)
            .where(named, MessageTemplate.name == "meeting_reminder_he")
            .values(status="PAUSED")
        )
        await session.execute(
            update(MessageTemplate)
            .where(named, MessageTemplate.name == "welcome_new_lead_en")
            .values(quality="RED")
        )
        await session.commit()
    await alert_rules.evaluate(db, settings)

    message = (await _open(db))[alert_rules.TEMPLATES_NOT_APPROVED]
    assert "meeting_reminder_he (he): PAUSED" in message
    assert "welcome_new_lead_en (en): quality RED" in message
    assert "welcome_new_lead_he" not in message
