"""The engagement score through the real webhook processor, the meetings service and the
daily decay: each change stored with its reason, and a lead's changes adding up to its score
(on SQLite, through both drivers, and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import create_engine, func, inspect, select, text

from ovenai import engagement, hooks
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database, downgrade, upgrade
from ovenai.engines import sync_url
from ovenai.errors import Gone, NotFound
from ovenai.ingest.processor import Processor
from ovenai.ingest.receive.event_store import EventStore
from ovenai.ingest.receive.signature import sign
from ovenai.lead_fields import LeadCreate, LeadUpdate
from ovenai.leads import create_lead, find_by_identity, update_lead
from ovenai.meetings import MeetingCreate, MeetingUpdate, create_meeting, update_meeting
from ovenai.models import Lead, MeetingStatus, Message, Role, ScoreChange, WebhookEvent
from ovenai.pagination import PageQuery
from ovenai.privacy import erase
from support.migrations import blank_url  # noqa: F401  (a fixture of these tests)

APP_SECRET = "test-app-secret"  # tests/conftest.py TEST_APP_SECRET
WA_ID = "972521234567"
SYSTEM = Actor.system()
ISRAEL = ZoneInfo("Asia/Jerusalem")
pytestmark = pytest.mark.anyio


# Meta-shaped bodies (Webhooks › Reference › messages, statuses).


def _envelope(value: dict[str, Any]) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "97233760000", "phone_number_id": "420000000000002"},
        **value,
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "310000000000001", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(body).encode()


def _messages(*messages: dict[str, Any], wa_id: str = WA_ID) -> bytes:
    contact = {"profile": {"name": "נועה בן דוד"}, "wa_id": wa_id}
    return _envelope({"contacts": [contact], "messages": list(messages)})


def _text(text: str, ts: int, *, wa_id: str = WA_ID) -> dict[str, Any]:
    wamid = f"wamid.in.{new_id()}"
    return {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(ts),
        "type": "text",
        "text": {"body": text},
    }


def _tap(reply_id: str, title: str, ts: int) -> dict[str, Any]:
    return {
        "from": WA_ID,
        "id": f"wamid.in.{new_id()}",
        "timestamp": str(ts),
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}},
    }


def _status(wamid: str, status: str, ts: int) -> bytes:
    item = {"id": wamid, "status": status, "timestamp": str(ts), "recipient_id": WA_ID}
    return _envelope({"statuses": [item]})


def _now_ts() -> int:
    return int(time.time()) - 600  # ten minutes ago: messages in the recent past


# The processor, as the worker runs it.


class Ingest:
    """Stores bodies as the webhook route does and drains them as the worker does."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.store = EventStore(db)
        self.processor = Processor(db)

    async def deliver(self, *bodies: bytes) -> None:
        """Store the bodies in order and wait until each is applied (by this processor or
        the live server's, which may run in the session too)."""
        ids = []
        for raw in bodies:
            ids.append(await self.store.store(raw, {"x-hub-signature-256": sign(raw, APP_SECRET)}))
        await self.processor.drain()
        deadline = time.monotonic() + 15
        while await self._pending(ids):
            assert time.monotonic() < deadline, "stored bodies were never processed"
            await asyncio.sleep(0.05)
            await self.processor.drain()

    async def _pending(self, ids: list[str]) -> int:
        async with self.db.session() as session:
            query = select(func.count()).where(
                WebhookEvent.id.in_(ids), WebhookEvent.status == "pending"
            )
            return int(await session.scalar(query) or 0)

    async def lead(self, wa_id: str = WA_ID) -> Lead:
        async with self.db.session() as session:
            lead = await find_by_identity(session, self.db.vault, wa_id=wa_id)
        assert lead is not None, f"no lead for {wa_id}"
        return lead

    async def outbound(self, lead_id: str) -> tuple[str, str]:
        """An outbound message as the outbox leaves it once Meta accepted it: (id, wamid)."""
        wamid = f"wamid.out.{new_id()}"
        message = Message(
            id=new_id(),
            lead_id=lead_id,
            direction="outbound",
            type="text",
            wa_message_id=wamid,
            status="sent",
            status_at=utcnow(),
        )
        async with self.db.session() as session:
            session.add(message)
            await session.commit()
        return message.id, wamid


@pytest.fixture
async def ingest(worker_db: Database) -> AsyncIterator[Ingest]:
    made = Ingest(worker_db)
    yield made
    await made.processor.stop()
    made.store.close()


@pytest.fixture
def scoring() -> Iterator[None]:
    """The score's hooks installed for the test, and the registries as they were after."""
    inbound, status = list(hooks.after_inbound), list(hooks.after_status)
    engagement.install()
    yield
    hooks.after_inbound[:] = inbound
    hooks.after_status[:] = status


@pytest.fixture
def not_scoring() -> Iterator[None]:
    """The score's hooks out for the test (whoever installed them), back after."""
    inbound, status = list(hooks.after_inbound), list(hooks.after_status)
    engagement.uninstall()
    yield
    hooks.after_inbound[:] = inbound
    hooks.after_status[:] = status


async def _changes(db: Database, lead_id: str) -> list[ScoreChange]:
    async with db.session() as session:
        query = (
            select(ScoreChange)
            .where(ScoreChange.lead_id == lead_id)
            .order_by(ScoreChange.at, ScoreChange.id)
        )
        return list(await session.scalars(query))


async def _score(db: Database, lead_id: str) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(Lead.engagement_score).where(Lead.id == lead_id)))


async def _reasons(db: Database, lead_id: str) -> list[tuple[str, int]]:
    """The lead's changes, oldest first, as (reason, delta), after checking they add up."""
    changes = await _changes(db, lead_id)
    running = 0
    for change in changes:
        running += change.delta
        assert change.score == running, "each change's score is the sum so far"
        assert 0 <= running <= 100
    assert running == await _score(db, lead_id), "the changes add up to the score"
    return [(change.reason, change.delta) for change in changes]


# Installing.


def test_install_adds_each_hook_once_and_uninstall_takes_them_out(not_scoring: None) -> None:
    engagement.install()
    engagement.install()
    assert hooks.after_inbound.count(engagement.on_inbound) == 1
    assert hooks.after_status.count(engagement.on_status) == 1
    engagement.uninstall()
    assert engagement.on_inbound not in hooks.after_inbound
    assert engagement.on_status not in hooks.after_status


async def test_nothing_is_scored_without_the_hooks(ingest: Ingest, not_scoring: None) -> None:
    await ingest.deliver(_messages(_text("כן, אשמח לתאם צפייה", _now_ts())))
    lead = await ingest.lead()
    assert lead.engagement_score == 0 and await _reasons(ingest.db, lead.id) == []


# What a lead says.


async def test_a_reply_raises_the_score_with_reason_replied(ingest: Ingest, scoring: None) -> None:
    message = _text("היי, ראיתי את הדירה בתל אביב", _now_ts())
    await ingest.deliver(_messages(message))
    lead = await ingest.lead()
    assert await _reasons(ingest.db, lead.id) == [("replied", 10)]
    async with ingest.db.session() as session:
        stored = await session.scalar(select(Message).where(Message.wa_message_id == message["id"]))
    assert stored is not None
    [change] = await _changes(ingest.db, lead.id)
    assert change.source == stored.id  # the message, never its text


async def test_a_request_for_a_viewing_adds_wants_viewing(ingest: Ingest, scoring: None) -> None:
    await ingest.deliver(_messages(_text("כן, אשמח לתאם צפייה", _now_ts())))
    lead = await ingest.lead()
    assert await _reasons(ingest.db, lead.id) == [("replied", 10), ("wants_viewing", 15)]
    assert lead.engagement_score == 25


async def test_asking_the_price_or_for_a_call_adds_their_points(
    ingest: Ingest, scoring: None
) -> None:
    ts = _now_ts() - 7200
    await ingest.deliver(_messages(_text("כמה עולה הדירה?", ts)))
    await ingest.deliver(_messages(_text("תתקשרו אליי", ts + 3600)))
    lead = await ingest.lead()
    assert await _reasons(ingest.db, lead.id) == [
        ("replied", 10),
        ("asks_price", 10),
        ("replied", 10),
        ("wants_call", 10),
    ]


async def test_replies_count_at_most_once_an_hour_by_when_they_were_written(
    ingest: Ingest, scoring: None
) -> None:
    ts = _now_ts() - 3 * 3600
    # Two messages in one body (applied as one run), five minutes apart: one reply.
    await ingest.deliver(_messages(_text("שלום", ts), _text("יש חניה?", ts + 300)))
    await ingest.deliver(_messages(_text("?", ts + 3599)))
    await ingest.deliver(_messages(_text("אני עדיין פה", ts + 3600)))
    lead = await ingest.lead()
    reasons = await _reasons(ingest.db, lead.id)
    assert [reason for reason in reasons if reason[0] == "replied"] == [("replied", 10)] * 2


async def test_a_tap_on_a_button_scores_the_tap_and_what_it_means(
    ingest: Ingest, scoring: None
) -> None:
    await ingest.deliver(_messages(_tap("viewing_confirm:m-1", "מאשר/ת", _now_ts())))
    lead = await ingest.lead()
    assert await _reasons(ingest.db, lead.id) == [("button", 8), ("wants_viewing", 15)]


async def test_not_interested_costs_30_and_earns_no_reply(ingest: Ingest, scoring: None) -> None:
    ts = _now_ts() - 7200
    await ingest.deliver(_messages(_text("כן, אשמח לתאם צפייה", ts)))
    await ingest.deliver(_messages(_text("לא מעוניין תודה", ts + 3600)))
    lead = await ingest.lead()
    assert await _reasons(ingest.db, lead.id) == [
        ("replied", 10),
        ("wants_viewing", 15),
        ("not_interested", -25),  # clamped at 0: the change applied, not the points
    ]
    assert lead.engagement_score == 0


async def test_an_opt_out_sets_the_score_to_zero(ingest: Ingest, scoring: None) -> None:
    ts = _now_ts() - 7200
    await ingest.deliver(_messages(_text("כמה עולה הדירה?", ts)))
    await ingest.deliver(_messages(_text("תסירו אותי בבקשה מהרשימה שלכם", ts + 60)))
    lead = await ingest.lead()
    assert await _reasons(ingest.db, lead.id) == [
        ("replied", 10),
        ("asks_price", 10),
        ("opted_out", -20),
    ]
    assert lead.engagement_score == 0


async def test_clamping_at_100_and_0_keeps_the_history_adding_up(
    ingest: Ingest, scoring: None
) -> None:
    ts = _now_ts() - 5 * 3600
    await ingest.deliver(_messages(_text("שלום", ts)))
    lead = await ingest.lead()
    await update_lead(
        ingest.db, actor=SYSTEM, lead_id=lead.id, changes=LeadUpdate(engagement_score=95)
    )
    await ingest.deliver(_messages(_text("כן, אשמח לתאם צפייה", ts + 3600)))
    await ingest.deliver(_messages(_tap("call_me", "תתקשרו", ts + 3700)))
    assert await _score(ingest.db, lead.id) == 100
    await ingest.deliver(_messages(_text("לא מעוניין תודה", ts + 7200)))
    await ingest.deliver(_messages(_text("תסירו אותי בבקשה מהרשימה שלכם", ts + 7300)))
    await ingest.deliver(_messages(_text("לא מעוניין תודה", ts + 7400)))
    assert await _reasons(ingest.db, lead.id) == [
        ("replied", 10),
        ("set", 85),  # written by hand: 10 → 95
        ("replied", 5),
        ("wants_viewing", 0),
        ("button", 0),
        ("wants_call", 0),
        ("not_interested", -30),
        ("opted_out", -70),
        ("not_interested", 0),
    ]


async def test_system_messages_are_not_replies(
    ingest: Ingest, scoring: None, load_fixture: Any
) -> None:
    await ingest.deliver(load_fixture("system_user_changed_number.json"))
    leads = await _all_leads(ingest.db)
    assert leads
    for lead in leads:
        assert await _reasons(ingest.db, lead.id) == []


async def _all_leads(db: Database) -> list[Lead]:
    async with db.session() as session:
        return list(await session.scalars(select(Lead)))


@pytest.fixture
def load_fixture() -> Any:
    from pathlib import Path

    folder = Path(__file__).parent / "ingest" / "fixtures"
    return lambda name: (folder / name).read_bytes()


# Reading our messages.


async def test_a_read_status_adds_read_once_per_message(ingest: Ingest, scoring: None) -> None:
    ts = _now_ts()
    await ingest.deliver(_messages(_text("שלום", ts - 3600)))
    lead = await ingest.lead()
    first, first_wamid = await ingest.outbound(lead.id)
    _, second_wamid = await ingest.outbound(lead.id)
    await ingest.deliver(
        _status(first_wamid, "delivered", ts), _status(first_wamid, "read", ts + 5)
    )
    await ingest.deliver(_status(first_wamid, "read", ts + 5), _status(first_wamid, "read", ts + 9))
    await ingest.deliver(_status(second_wamid, "sent", ts + 20))
    assert await _reasons(ingest.db, lead.id) == [("replied", 10), ("read", 2)]
    assert (await _changes(ingest.db, lead.id))[-1].source == first
    await ingest.deliver(_status(second_wamid, "read", ts + 30))
    assert await _reasons(ingest.db, lead.id) == [("replied", 10), ("read", 2), ("read", 2)]


# Viewings booked.


async def _lead_with_a_phone(db: Database, score: int = 0) -> str:
    data = LeadCreate(name="דנה לוי", phone="0502345678", engagement_score=score)
    return (await create_lead(db, actor=SYSTEM, data=data)).id


async def test_a_viewing_booked_adds_20_once_per_meeting(db: Database) -> None:
    lead_id = await _lead_with_a_phone(db)
    starts = datetime(2026, 12, 24, 10, 0, tzinfo=ISRAEL)
    proposed = MeetingCreate(lead_id=lead_id, starts_at=starts)
    meeting = await create_meeting(db, actor=SYSTEM, data=proposed, zone=ISRAEL)
    assert await _reasons(db, lead_id) == []  # a proposal is not a booking
    confirm = MeetingUpdate(status="confirmed")
    await update_meeting(db, actor=SYSTEM, meeting_id=meeting.id, changes=confirm, zone=ISRAEL)
    later = MeetingUpdate(starts_at=starts + timedelta(days=1))
    await update_meeting(db, actor=SYSTEM, meeting_id=meeting.id, changes=later, zone=ISRAEL)
    await update_meeting(db, actor=SYSTEM, meeting_id=meeting.id, changes=confirm, zone=ISRAEL)
    booked = MeetingCreate(lead_id=lead_id, starts_at=starts, status="confirmed")
    second = await create_meeting(db, actor=SYSTEM, data=booked, zone=ISRAEL)
    assert await _reasons(db, lead_id) == [("booked", 20), ("booked", 20)]
    sources = [change.source for change in await _changes(db, lead_id)]
    assert sources == [meeting.id, second.id]


# Silence.


async def test_three_silent_weeks_take_15_and_are_charged_once(
    ingest: Ingest, scoring: None
) -> None:
    written = _now_ts()
    await ingest.deliver(_messages(_text("כן, אשמח לתאם צפייה", written)))
    lead = await ingest.lead()
    since = datetime.fromtimestamp(written, UTC)
    assert await engagement.decay(ingest.db, now=since + timedelta(days=6, hours=23)) == 0
    assert await engagement.decay(ingest.db, now=since + timedelta(days=21, hours=1)) == 1
    assert await engagement.decay(ingest.db, now=since + timedelta(days=22)) == 0
    assert await _reasons(ingest.db, lead.id) == [
        ("replied", 10),
        ("wants_viewing", 15),
        ("silence", -15),
    ]
    assert await engagement.decay(ingest.db, now=since + timedelta(days=28, hours=1)) == 1
    assert await _reasons(ingest.db, lead.id) == [
        ("replied", 10),
        ("wants_viewing", 15),
        ("silence", -15),
        ("silence", -5),
    ]
    sources = [change.source for change in await _changes(ingest.db, lead.id)][2:]
    assert sources == ["weeks:1-3", "week:4"]


async def test_the_daily_job_charges_a_week_at_a_time_and_stops_at_zero(
    ingest: Ingest, scoring: None
) -> None:
    written = _now_ts()
    await ingest.deliver(_messages(_text("שלום", written)))
    lead = await ingest.lead()
    since = datetime.fromtimestamp(written, UTC)
    for day in range(1, 50):
        await engagement.decay(ingest.db, now=since + timedelta(days=day, hours=3))
    assert await _reasons(ingest.db, lead.id) == [
        ("replied", 10),
        ("silence", -5),
        ("silence", -5),
    ]


async def test_a_week_passed_at_zero_is_not_charged_after_a_booking(db: Database) -> None:
    lead_id = await _lead_with_a_phone(db, score=5)  # written by hand: silent since created
    async with db.session() as session:
        created = await session.scalar(select(Lead.created_at).where(Lead.id == lead_id))
    assert created is not None
    with time_machine.travel(created + timedelta(days=15)):
        assert await engagement.decay(db) == 1  # weeks 1-2: 5 → 0
    with time_machine.travel(created + timedelta(days=24)):  # weeks 2-3 passed at 0
        starts = utcnow() + timedelta(days=2)
        booked = MeetingCreate(lead_id=lead_id, starts_at=starts, status=MeetingStatus.CONFIRMED)
        await create_meeting(db, actor=SYSTEM, data=booked, zone=ISRAEL)
        assert await engagement.decay(db) == 0
    with time_machine.travel(created + timedelta(days=28, hours=1)):
        assert await engagement.decay(db) == 1  # week 4 ended after the booking
    assert await _reasons(db, lead_id) == [
        ("set", 5),
        ("silence", -5),
        ("booked", 20),
        ("silence", -5),
    ]


async def test_decay_leaves_erased_leads_alone(db: Database) -> None:
    lead_id = await _lead_with_a_phone(db, score=40)
    await erase(db, actor=SYSTEM, lead_id=lead_id)
    assert await engagement.decay(db, now=utcnow() + timedelta(days=60)) == 0


# The history, for the page, the API and the command line.


async def test_history_is_newest_first_in_pages_and_only_for_leads_one_may_see(
    db: Database,
) -> None:
    lead_id = await _lead_with_a_phone(db, score=30)
    for value in (50, 45):
        change = LeadUpdate(engagement_score=value)
        await update_lead(db, actor=SYSTEM, lead_id=lead_id, changes=change)
    first = await engagement.history(db, actor=SYSTEM, lead_id=lead_id, page=PageQuery(limit=2))
    assert first.score == 45
    shown = [(c.reason, c.delta, c.score) for c in first.changes]
    assert shown == [("set", -5, 45), ("set", 20, 50)]
    assert first.next_cursor is not None
    rest = await engagement.history(
        db, actor=SYSTEM, lead_id=lead_id, page=PageQuery(limit=2, cursor=first.next_cursor)
    )
    assert [(c.delta, c.score) for c in rest.changes] == [(30, 30)] and rest.next_cursor is None
    assert first.changes[0].source == "system"
    stranger = Actor(user_id=new_id(), role=Role.AGENT, email="other@example.co.il")
    owned = LeadUpdate(assigned_agent_id=await _agent(db))
    await update_lead(db, actor=SYSTEM, lead_id=lead_id, changes=owned)
    with pytest.raises(NotFound):
        await engagement.history(db, actor=stranger, lead_id=lead_id)
    await erase(db, actor=SYSTEM, lead_id=lead_id)
    with pytest.raises(Gone):
        await engagement.history(db, actor=SYSTEM, lead_id=lead_id)


async def _agent(db: Database) -> str:
    from ovenai import auth

    return (await auth.create_user(db, email="dana@example.co.il", role=Role.AGENT)).id


# The migration.


def test_0012_gives_each_score_written_before_its_change_and_goes_back(
    blank_url: str,  # noqa: F811  (the fixture imported above)
) -> None:
    upgrade(blank_url, "0011")
    engine = create_engine(sync_url(blank_url))
    insert = (
        "INSERT INTO leads (id, language, source, stage, engagement_score, created_at,"
        " updated_at) VALUES (:id, 'he', 'manual', 'new', :score, CURRENT_TIMESTAMP,"
        " CURRENT_TIMESTAMP)"
    )
    with engine.begin() as conn:
        conn.execute(text(insert), [{"id": "l1", "score": 40}, {"id": "l2", "score": 0}])
    upgrade(blank_url, "0012")
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT lead_id, delta, score, reason, source, at FROM score_changes")
        ).all()
    assert [tuple(row)[:5] for row in rows] == [("l1", 40, 40, "set", "migration")]
    assert rows[0].at is not None
    downgrade(blank_url, "0011")
    assert "score_changes" not in inspect(engine).get_table_names()
    engine.dispose()
