"""Alert rules and their notifications, against real databases and loopback receivers.

Time moves with time-machine, never by sleeping: the repeat interval and the retry backoff
are crossed by travelling past them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from tests.monitoring.conftest import Inbox, SlackReceiver
from tests.outbox.conftest import dispatcher, make_lead, recently, send

from ovenai import alert_rules, graph_times, notifiers
from ovenai.alerts import open_alerts
from ovenai.cloudapi import CloudApiClient, timings
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import Direction, JobLock, Message, User
from ovenai.models.operations import AlertDelivery
from ovenai.models.privacy import PrivacyRequest
from ovenai.outbox.pause import resume_sending
from ovenai.settings import Settings
from ovenai.simulator import SimulatorConfig, SimulatorThread
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio
PAUSED_EN = "Sending paused: access token rejected"


async def _round(db: Database, settings: Settings) -> notifiers.DeliveryReport:
    """One evaluation, then one run of the delivery job (as the worker's two jobs do)."""
    await alert_rules.evaluate(db, settings)
    return await notifiers.deliver_due(db, settings)


async def _open_kinds(db: Database) -> set[str]:
    async with db.session() as session:
        return {alert.kind for alert in await open_alerts(session)}


async def _outbound(db: Database, *, sent: int, failed: int) -> None:
    """Outbound messages that reached their outcome a minute ago."""
    lead = await make_lead(db)
    at = utcnow() - timedelta(minutes=1)
    async with db.session() as session:
        for n in range(sent + failed):
            is_failed = n < failed
            session.add(
                Message(
                    lead_id=lead.id,
                    direction=Direction.OUTBOUND,
                    type="text",
                    status="failed" if is_failed else "sent",
                    sent_at=None if is_failed else at,
                    failed_at=at if is_failed else None,
                    error_code=131026 if is_failed else None,
                )
            )
        await session.commit()


async def test_a_rejected_token_is_told_once_repeated_at_the_interval_and_resolved(
    db: Database,
    client: CloudApiClient,
    control: SimControl,
    alert_settings: Settings,
    smtp: tuple[Inbox, int],
    slack: SlackReceiver,
) -> None:
    inbox = smtp[0]
    lead = await make_lead(db, wrote_at=recently())
    await control.inbound(**{"from": lead.phone, "type": "text", "text": "hi", "wait": False})
    await control.faults(errors=[{"code": 190, "count": None, "status": 401}])
    await send(db, lead.id, text="שלום")
    await dispatcher(db, client).drain()  # Meta answers 190: every worker's sending pauses

    report = await _round(db, alert_settings)

    assert report.sent == 3  # two addresses and Slack
    assert inbox.subjects() == [f"[OvenAI] Alert: {PAUSED_EN}"] * 2
    assert len(slack.texts()) == 1 and PAUSED_EN in slack.texts()[0]
    assert "שלום" not in slack.texts()[0] and lead.phone not in slack.texts()[0]

    for _ in range(3):  # later evaluations while it lasts: nothing new within the interval
        await _round(db, alert_settings)
    assert len(inbox.messages) == 2 and len(slack.posts) == 1

    with time_machine.travel(utcnow() + timedelta(minutes=61), tick=False):
        await _round(db, alert_settings)
        await _round(db, alert_settings)
    assert inbox.subjects()[2:] == [f"[OvenAI] Still open: {PAUSED_EN}"] * 2
    assert len(slack.posts) == 2

    await control.faults(clear=True)
    assert await resume_sending(db)
    await _round(db, alert_settings)
    await _round(db, alert_settings)

    assert inbox.subjects()[4:] == [f"[OvenAI] Resolved: {PAUSED_EN}"] * 2
    assert len(slack.posts) == 3 and "Resolved" in slack.texts()[2]
    assert await _open_kinds(db) == set()


async def test_a_quiet_night_fires_nothing_and_a_burst_of_failures_does(
    db: Database, alert_settings: Settings, smtp: tuple[Inbox, int], slack: SlackReceiver
) -> None:
    await _outbound(db, sent=2, failed=1)  # 33 % of three messages: below the minimum volume

    await _round(db, alert_settings)

    assert await _open_kinds(db) == set()
    assert smtp[0].messages == [] and slack.posts == []

    await _outbound(db, sent=20, failed=2)  # 3 of 25 in the window: 12 %
    await _round(db, alert_settings)

    assert await _open_kinds(db) == {alert_rules.FAILURE_RATE}
    assert len(slack.posts) == 1 and "3 of 25 outbound messages failed" in slack.texts()[0]


async def test_sends_meta_refused_through_the_real_outbox_raise_the_failure_rate_alert(
    db: Database, client: CloudApiClient, control: SimControl, alert_settings: Settings
) -> None:
    """The rule reads the messages as the outbox writes them (their direction is
    ``Direction.OUTBOUND``, never a spelling of the test's own)."""
    leads = [await make_lead(db, wrote_at=recently()) for _ in range(3)]
    await control.faults(errors=[{"code": 131026, "count": None}])  # undeliverable, all
    for n in range(alert_settings.alert_failure_min_messages):
        await send(db, leads[n % 3].id, text=f"הודעה {n}")
    await dispatcher(db, client).drain()

    await _round(db, alert_settings)

    assert alert_rules.FAILURE_RATE in await _open_kinds(db)


async def test_a_failing_notifier_is_retried_with_backoff_and_raises_its_own_alert(
    db: Database, alert_settings: Settings, smtp: tuple[Inbox, int], slack: SlackReceiver
) -> None:
    slack.status = 500
    async with db.session() as session:
        session.add(
            PrivacyRequest(kind="export", due_at=utcnow() - timedelta(days=1), requested_by="x")
        )
        await session.commit()

    first = await _round(db, alert_settings)
    assert (first.sent, first.retrying) == (2, 1)  # e-mail went; Slack waits its backoff
    await notifiers.deliver_due(db, alert_settings)
    assert len(slack.posts) == 1  # not retried before its time

    with time_machine.travel(utcnow() + timedelta(seconds=notifiers.RETRY_BASE_S + 1)):
        await notifiers.deliver_due(db, alert_settings)
    assert len(slack.posts) == 2
    assert "notifier_slack" in await _open_kinds(db)

    slack.status = 200
    with time_machine.travel(utcnow() + timedelta(minutes=5)):
        await _round(db, alert_settings)  # the retry goes, the channel's alert resolves
    assert "notifier_slack" not in await _open_kinds(db)
    subjects = smtp[0].subjects()
    assert "[OvenAI] Alert: Slack alerts failing" in subjects
    assert "[OvenAI] Alert: Data-subject request overdue" in subjects
    async with db.session() as session:
        channels = {row.channel for row in await session.scalars(select(AlertDelivery))}
    assert channels == {"email", "slack"}


def _text_of(message: Any) -> str:
    """The plain-text part of a notification e-mail."""
    part = message.get_body(preferencelist=("plain",)) if message.is_multipart() else message
    return str(part.get_content())


async def test_each_address_reads_its_users_language(
    db: Database, alert_settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    async with db.session() as session:
        session.add(User(email="ops@example.com", role="admin", language="he"))
        await session.commit()
    await _outbound(db, sent=19, failed=1)

    await _round(db, alert_settings)

    by_address = {str(m["To"]): str(m["Subject"]) for m in smtp[0].messages}
    assert by_address["owner@example.com"].startswith("[OvenAI] Alert: Outbound failure rate")
    assert by_address["ops@example.com"] == "[OvenAI] התראה: שיעור כישלונות גבוה בשליחה"
    bodies = {str(m["To"]): _text_of(m) for m in smtp[0].messages}
    assert "1 of 20 outbound messages failed in the last" in bodies["owner@example.com"]
    hebrew = bodies["ops@example.com"]
    assert "1 מתוך 20 הודעות יוצאות נכשלו" in hebrew and "messages failed" not in hebrew


async def test_rules_for_keys_requests_retention_and_a_stuck_outbox(
    db: Database, clean_db: Settings
) -> None:
    lead = await make_lead(db)
    now = utcnow()
    async with db.session() as session:
        session.add(PrivacyRequest(kind="erase", due_at=now + timedelta(days=5), requested_by="x"))
        session.add(JobLock(name="retention", last_run_at=now - timedelta(hours=27)))
        session.add(
            Message(
                lead_id=lead.id,
                direction=Direction.OUTBOUND,
                type="text",
                status="queued",
                next_attempt_at=now - timedelta(minutes=20),
            )
        )
        await session.commit()

    result = await alert_rules.evaluate(db, clean_db)

    assert set(result.holding) == {
        alert_rules.PRIVACY_DUE,
        alert_rules.RETENTION_NOT_RUN,
        alert_rules.OUTBOX_STUCK,
    }
    with time_machine.travel(now + timedelta(days=81), tick=False):
        assert alert_rules.KEY_ROTATION_DUE in (await alert_rules.evaluate(db, clean_db)).holding
    with time_machine.travel(now + timedelta(days=91), tick=False):
        holding = (await alert_rules.evaluate(db, clean_db)).holding
    assert alert_rules.KEY_ROTATION_OVERDUE in holding
    assert alert_rules.KEY_ROTATION_DUE not in holding
    assert alert_rules.PRIVACY_OVERDUE in holding


async def test_retention_never_run_counts_from_when_monitoring_started(
    db: Database, clean_db: Settings
) -> None:
    assert alert_rules.RETENTION_NOT_RUN not in (await alert_rules.evaluate(db, clean_db)).holding
    with time_machine.travel(utcnow() + timedelta(hours=27), tick=False):
        holding = (await alert_rules.evaluate(db, clean_db)).holding
    assert alert_rules.RETENTION_NOT_RUN in holding


async def _accepted(db: Database, *, delivered: int, still_sent: int, ago: timedelta) -> None:
    """Outbound messages Meta accepted ``ago``, some delivered or read since."""
    lead = await make_lead(db)
    at = utcnow() - ago
    async with db.session() as session:
        for n in range(delivered + still_sent):
            status = ("read" if n % 2 else "delivered") if n < delivered else "sent"
            session.add(
                Message(
                    lead_id=lead.id,
                    direction=Direction.OUTBOUND,
                    type="text",
                    status=status,
                    sent_at=at,
                )
            )
        await session.commit()


async def test_a_low_delivery_rate_fires_once_its_receipts_had_time_to_come(
    db: Database, alert_settings: Settings, slack: SlackReceiver
) -> None:
    # Accepted two minutes ago and not delivered yet: inside the grace, not counted.
    await _accepted(db, delivered=0, still_sent=80, ago=timedelta(minutes=2))
    await _accepted(db, delivered=30, still_sent=10, ago=timedelta(minutes=20))  # 40: too few
    await _round(db, alert_settings)
    assert await _open_kinds(db) == set()

    await _accepted(db, delivered=15, still_sent=5, ago=timedelta(minutes=30))  # 45 of 60
    await _round(db, alert_settings)

    assert await _open_kinds(db) == {alert_rules.DELIVERY_RATE}
    assert len(slack.posts) == 1
    assert "45 of 60 messages Meta accepted in 60 minutes were delivered" in slack.texts()[0]

    with time_machine.travel(utcnow() + timedelta(hours=2), tick=False):  # all out of the window
        await _round(db, alert_settings)
    assert await _open_kinds(db) == set()
    assert "Resolved" in slack.texts()[-1]


async def test_slow_answers_from_meta_fire_the_slow_response_alert_and_it_resolves(
    db: Database,
    fresh_simulator: SimulatorThread,
    sim_config: SimulatorConfig,
    control: SimControl,
    alert_settings: Settings,
    smtp: tuple[Inbox, int],
    slack: SlackReceiver,
) -> None:
    """Through the simulator's fault API: every send answered after 5.2 s, against the
    default threshold (a 95th percentile above 5 s), with a minimum of five calls. The
    client waits up to 10 s (the tests' own client gives up at 5)."""
    client = CloudApiClient(
        access_token=sim_config.access_token,
        phone_number_id=sim_config.phone_number_id,
        business_account_id=sim_config.business_account_id,
        base_url=fresh_simulator.base_url,
        timeout=10.0,
    )
    settings = alert_settings.model_copy(update={"alert_graph_min_calls": 5})
    assert settings.alert_graph_p95_seconds == 5.0
    timings.take()  # what earlier tests of this process left
    leads = [await make_lead(db, wrote_at=recently()) for _ in range(5)]
    for lead in leads:  # the simulator's own 24-hour window is open too
        await control.inbound(**{"from": lead.phone, "type": "text", "text": "hi", "wait": False})
    await control.faults(latency={"ms": 5200, "count": None})
    for lead in leads[:4]:  # to four leads: sent side by side
        await send(db, lead.id, text="שלום")
    await dispatcher(db, client).drain()
    await graph_times.store(db)
    await _round(db, settings)
    assert await _open_kinds(db) == set()  # four calls: under the minimum volume

    await send(db, leads[4].id, text="ועוד אחת")
    await dispatcher(db, client).drain()
    await graph_times.store(db)
    await _round(db, settings)
    await _round(db, settings)

    assert await _open_kinds(db) == {alert_rules.GRAPH_SLOW}
    title = "[OvenAI] Alert: Meta's Graph API is slow"
    assert smtp[0].subjects() == [title] * 2 and len(slack.posts) == 1
    assert (
        "answered 5 calls of the last 5 minutes with a 95th percentile of 5.2 s"
        in (slack.texts()[0])
    )

    await control.faults(clear=True)
    with time_machine.travel(utcnow() + timedelta(minutes=7), tick=False):
        await _round(db, settings)
    assert await _open_kinds(db) == set()
    assert "Resolved" in slack.texts()[-1]
    await client.aclose()
