"""The dispatcher against the simulator: sends, order per lead, retries by error class."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from tests.outbox.conftest import WABA_ID, config, dispatcher, make_lead, recently

from ovenai import conversations
from ovenai.alerts import open_alerts
from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import Message, SystemFlag
from ovenai.outbox import claim_size, queue
from ovenai.outbox.pause import PAUSE_FLAG, resume_sending
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio


async def _queue_text(db: Database, lead_id: str, text: str, **extra: object) -> str:
    request = queue.OutboundRequest(text=text, **extra)  # type: ignore[arg-type]
    queued = await queue.send_message(
        db,
        actor=Actor.system(),
        lead_id=lead_id,
        request=request,
        waba_id=WABA_ID,
        zone=utcnow().tzinfo,  # type: ignore[arg-type]
    )
    return queued.id


async def _message(db: Database, message_id: str) -> Message:
    async with db.session() as session:
        found = await session.get(Message, message_id)
        assert found is not None
        return found


async def _open_window(control: SimControl, phone: str | None) -> None:
    await control.inbound(**{"from": phone, "type": "text", "text": "hi", "wait": False})


async def test_it_sends_queued_free_text_and_records_the_wamid(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    await _open_window(control, lead.phone)
    message_id = await _queue_text(db, lead.id, "שלום, הדירה עדיין פנויה")

    await dispatcher(db, client).drain()

    stored = await _message(db, message_id)
    assert stored.status == "sent" and stored.wa_message_id and stored.attempts == 1
    sent = (await control.outbox())["messages"]
    assert [m["body"]["text"]["body"] for m in sent] == ["שלום, הדירה עדיין פנויה"]
    assert sent[0]["body"]["biz_opaque_callback_data"] == message_id


@pytest.mark.parametrize("batch_size", [None, 2])  # 2: every claim full, the next claimed ahead
async def test_messages_to_one_lead_leave_in_the_order_they_were_queued(
    db: Database, client: CloudApiClient, control: SimControl, batch_size: int | None
) -> None:
    leads = [await make_lead(db, wrote_at=recently()) for _ in range(3)]
    for lead in leads:
        await _open_window(control, lead.phone)
    for n in range(8):
        for lead in leads:
            await _queue_text(db, lead.id, f"{lead.id}:{n}")

    await dispatcher(db, client, concurrency=16, batch_size=batch_size).drain()

    sent = [m["body"]["text"]["body"] for m in (await control.outbox())["messages"]]
    for lead in leads:
        mine = [int(text.split(":")[1]) for text in sent if text.startswith(lead.id)]
        assert mine == list(range(8))


async def test_a_stopping_worker_gives_back_the_batch_it_claimed_ahead(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    leads = [await make_lead(db, wrote_at=recently()) for _ in range(4)]
    ids = []
    for lead in leads:
        await _open_window(control, lead.phone)
        ids.append(await _queue_text(db, lead.id, "hello"))
    worker = dispatcher(db, client, batch_size=2)

    assert await worker.step()  # claims two, and the next two ahead
    stop = asyncio.Event()
    stop.set()
    await worker.run(stop)  # stops at once: sends what it started, gives back the rest

    messages = [await _message(db, message_id) for message_id in ids]
    assert {m.status for m in messages} <= {"sent", "queued"}
    assert sum(m.status == "queued" for m in messages) >= 2  # the two claimed ahead at least
    for message in messages:
        if message.status == "queued":  # given back: unclaimed, attempt refunded
            assert message.claimed_by is None and message.attempts == 0
    await dispatcher(db, client).drain()  # the next worker sends them
    assert all([(await _message(db, i)).status == "sent" for i in ids])


async def test_a_scheduled_message_waits_for_its_time(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    later = utcnow() + timedelta(hours=1)
    scheduled = await _queue_text(db, lead.id, "later", send_at=later)
    now = await _queue_text(db, lead.id, "now")
    await _open_window(control, lead.phone)

    await dispatcher(db, client).drain()

    assert (await _message(db, scheduled)).status == "queued"
    assert (await _message(db, now)).status == "sent"


@pytest.mark.parametrize("code", [131000, 2, 131016])
async def test_a_transient_error_is_retried_and_then_sent(
    db: Database, client: CloudApiClient, control: SimControl, code: int
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    await _open_window(control, lead.phone)
    await control.faults(errors=[{"code": code, "count": 2, "status": 500}])
    message_id = await _queue_text(db, lead.id, "retry me")

    await dispatcher(db, client).drain()

    stored = await _message(db, message_id)
    assert stored.status == "sent" and stored.attempts == 3


async def test_a_transient_error_fails_the_message_after_the_last_attempt(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    await _open_window(control, lead.phone)
    await control.faults(errors=[{"code": 131000, "count": 5, "status": 500}])
    message_id = await _queue_text(db, lead.id, "doomed")

    await dispatcher(db, client).drain()

    stored = await _message(db, message_id)
    assert (stored.status, stored.attempts, stored.error_code) == ("failed", 3, 131000)


@pytest.mark.parametrize("code", [131026, 100, 132000, 131047])
async def test_a_permanent_error_fails_at_once_with_metas_code_and_details(
    db: Database, client: CloudApiClient, control: SimControl, code: int
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    await _open_window(control, lead.phone)
    await control.faults(errors=[{"code": code}])
    message_id = await _queue_text(db, lead.id, "no")

    await dispatcher(db, client).drain()

    record = await conversations.get_message(db, actor=Actor.system(), message_id=message_id)
    assert record.status == "failed" and record.error is not None
    assert record.error.code == code and record.error.title
    assert ("failed", record.status_history[-1][1]) == record.status_history[-1]
    assert (await _message(db, message_id)).attempts == 1


@pytest.mark.parametrize("code", [131048, 368])
async def test_a_quality_hold_is_not_retried(
    db: Database, client: CloudApiClient, control: SimControl, code: int
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    await _open_window(control, lead.phone)
    await control.faults(errors=[{"code": code}])
    message_id = await _queue_text(db, lead.id, "quality")

    await dispatcher(db, client).drain()

    stored = await _message(db, message_id)
    assert (stored.status, stored.error_code, stored.attempts) == ("failed", code, 1)


@pytest.mark.parametrize("mps", [1000.0, None], ids=["paced", "unpaced"])
@pytest.mark.parametrize("code", [130429, 131056])
async def test_a_throttling_answer_holds_the_message_and_never_fails_it(
    db: Database, client: CloudApiClient, control: SimControl, code: int, mps: float | None
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    await _open_window(control, lead.phone)
    await control.faults(errors=[{"code": code, "count": 4, "status": 400}])
    message_id = await _queue_text(db, lead.id, "slowly")

    await dispatcher(db, client, messages_per_second=mps).drain()

    stored = await _message(db, message_id)
    assert (stored.status, stored.attempts) == ("sent", 1)  # held four times, never counted


async def test_an_invalid_token_pauses_all_sending_and_raises_one_alert(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    await _open_window(control, lead.phone)
    await control.faults(errors=[{"code": 190, "count": None, "status": 401}])
    ids = [await _queue_text(db, lead.id, f"m{n}") for n in range(5)]

    sender = dispatcher(db, client)
    await sender.drain()

    async with db.session() as session:
        assert await session.get(SystemFlag, PAUSE_FLAG) is not None
        rows = list(await session.scalars(select(Message).where(Message.id.in_(ids))))
        alerts = await open_alerts(session)
    assert {row.status for row in rows} == {"queued"}
    assert [a.severity for a in alerts if a.kind == "whatsapp_access_token"] == ["critical"]
    assert {row.attempts for row in rows} == {0}  # held, not counted as failures

    await control.faults(clear=True)
    assert await resume_sending(db)
    for _ in range(10):
        async with db.session() as session:
            await session.execute(Message.__table__.update().values(next_attempt_at=utcnow()))
            await session.commit()
        sender = dispatcher(db, client)
        await sender.drain()
    sent = [m["body"]["text"]["body"] for m in (await control.outbox())["messages"]]
    assert sent == [f"m{n}" for n in range(5)]


@pytest.mark.parametrize(
    ("changes", "batch"),
    [
        ({"messages_per_second": 80.0}, 200),  # never fewer than MIN_BATCH a claim
        ({"messages_per_second": 600.0}, 300),  # half a second of the number's throughput
        ({"messages_per_second": 1000.0}, 500),
        ({"messages_per_second": None}, 1000),  # unpaced: MAX_BATCH
        ({"messages_per_second": 1000.0, "batch_size": 50}, 50),  # set explicitly
    ],
)
def test_a_claim_takes_half_a_second_of_sending(changes: dict[str, object], batch: int) -> None:
    assert config(**changes).claim_batch == batch


async def test_a_worker_whose_claims_age_out_before_their_slots_keeps_sending(
    db: Database, client: CloudApiClient, control: SimControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 20 a second, a claim's 1 s to send in (half its 2 s) covers 20 sends, yet the worker
    holds two batches of 40 and claims the next ahead: most of its line ages out before its
    slot. Those jobs go back to the queue without taking a slot, and the fresh ones behind
    them get the slots. (When each aged job spent a slot on being given back, the slots went
    to jobs that had aged in their turn, and sending stopped: the cluster drill, issue 21.)

    Claims are sized by what the worker sends in time (test_claim_size.py); here it claims
    five times that, as a worker does whose sends go slower than its share (the bucket held
    by Meta's throttling, a busy machine), and as every worker did before the sizing."""
    monkeypatch.setattr(claim_size, "MARGIN", 5.0)
    late_before = REGISTRY.get_sample_value("ovenai_outbox_given_back_total", {"reason": "late"})
    leads = [await make_lead(db, wrote_at=recently()) for _ in range(100)]
    for lead in leads:  # the simulator's own 24-hour window is open too
        await control.inbound(**{"from": lead.phone, "type": "text", "text": "hi", "wait": False})
    ids = [await _queue_text(db, lead.id, "שלום") for lead in leads]
    worker = dispatcher(db, client, messages_per_second=20.0, claim_ttl_s=2.0, batch_size=40)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))

    async def unsent() -> int:
        async with db.session() as session:
            query = select(Message.id).where(Message.id.in_(ids), Message.sent_at.is_(None))
            return len(list(await session.scalars(query)))

    try:
        for _ in range(600):  # 100 sends at 20 a second take 5 s; 60 s is ample
            if await unsent() == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await running
    assert await unsent() == 0
    accepted = (await control.outbox())["messages"]
    assert len(accepted) == 100  # none sent twice
    late = REGISTRY.get_sample_value("ovenai_outbox_given_back_total", {"reason": "late"})
    assert (late or 0.0) > (late_before or 0.0)  # it did give claimed messages back
