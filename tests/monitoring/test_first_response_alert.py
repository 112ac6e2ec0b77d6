"""The first-response alert: a lead's message no person answered for 30 minutes of working
time; it holds only in working hours, and a person's answer ends it (time-machine)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import update
from tests.outbox.conftest import make_lead

from ovenai import alert_rules, auth
from ovenai.alerts import open_alerts
from ovenai.db import Database
from ovenai.models import Direction, Lead, Message, Role
from ovenai.settings import Settings

pytestmark = pytest.mark.anyio
ISRAEL = ZoneInfo("Asia/Jerusalem")
THURSDAY_EVENING = datetime(2026, 11, 19, 18, 50, tzinfo=ISRAEL)


async def _kinds_at(db: Database, settings: Settings, moment: datetime) -> dict[str, str]:
    with time_machine.travel(moment, tick=False):
        await alert_rules.evaluate(db, settings)
        async with db.session() as session:
            return {alert.kind: alert.message for alert in await open_alerts(session)}


async def test_a_lead_waiting_over_the_weekend_is_reported_on_sunday_morning_only(
    db: Database, clean_db: Settings
) -> None:
    lead = await make_lead(db)
    async with db.session() as session:
        await session.execute(
            update(Lead).where(Lead.id == lead.id).values(last_inbound_at=THURSDAY_EVENING)
        )
        session.add(
            Message(
                lead_id=lead.id,
                direction=Direction.OUTBOUND,
                type="template",
                status="read",
                created_at=datetime(2026, 11, 19, 18, 51, tzinfo=ISRAEL),  # automation's answer
            )
        )
        await session.commit()
    sla = alert_rules.FIRST_RESPONSE

    assert sla not in await _kinds_at(db, clean_db, datetime(2026, 11, 20, 10, 0, tzinfo=ISRAEL))
    assert sla not in await _kinds_at(db, clean_db, datetime(2026, 11, 22, 8, 20, tzinfo=ISRAEL))
    late = await _kinds_at(db, clean_db, datetime(2026, 11, 22, 8, 25, tzinfo=ISRAEL))
    assert "1 lead(s) have waited more than 30 minutes of working time" in late[sla]

    agent = await auth.create_user(db, email="rina@agency.co.il", role=Role.AGENT)
    async with db.session() as session:
        session.add(
            Message(
                lead_id=lead.id,
                direction=Direction.OUTBOUND,
                type="text",
                status="sent",
                sent_by_id=agent.id,
                created_at=datetime(2026, 11, 22, 8, 30, tzinfo=ISRAEL),
            )
        )
        await session.commit()
    assert sla not in await _kinds_at(db, clean_db, datetime(2026, 11, 22, 8, 31, tzinfo=ISRAEL))
