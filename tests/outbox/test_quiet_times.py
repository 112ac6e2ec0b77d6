"""Quiet times in the outbox, through the simulator (issue 17): marketing queued on Shabbat,
a holiday's eve or at night waits and leaves when allowed, spread out; a reminder queued
beside it leaves at once; a message queued just before the night is held when claimed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from tests.outbox.conftest import WABA_ID, dispatcher, make_lead

from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database
from ovenai.models import Message
from ovenai.outbox import queue
from ovenai.quiet_hours import OFF, QuietHours
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio

IL = ZoneInfo("Asia/Jerusalem")
QUIET = QuietHours()  # the defaults: nights 21:00-08:00, Shabbat, holidays, 10 minutes' spread
MARKETING = {"template": "followup_interest", "params": ["נועה", "רמת גן"]}
REMINDER = {"template": "meeting_reminder", "params": ["נועה", "10:00"]}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=IL)


async def _queue(
    db: Database, lead_id: str, quiet: QuietHours = QUIET, **request: Any
) -> queue.QueuedMessage:
    return await queue.send_message(
        db,
        actor=Actor.system(),
        lead_id=lead_id,
        request=queue.OutboundRequest(**request),
        waba_id=WABA_ID,
        zone=IL,
        quiet=quiet,
    )


async def _row(db: Database, message_id: str) -> Message:
    async with db.session() as session:
        row = await session.get(Message, message_id)
        assert row is not None
        return row


async def _sent_templates(control: SimControl) -> list[str]:
    return [m["body"]["template"]["name"] for m in (await control.outbox())["messages"]]


async def _drain_at(db: Database, api: CloudApiClient, moment: datetime, **config: Any) -> None:
    with time_machine.travel(moment, tick=True):
        await dispatcher(db, api, quiet=QUIET, **config).drain()


async def test_marketing_queued_on_friday_afternoon_leaves_after_saturday_nightfall_and_a_reminder_at_once(  # noqa: E501
    seeded: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(seeded)
    friday = at("2026-12-11 16:15")  # candle lighting in Jerusalem 15:55
    with time_machine.travel(friday, tick=False):
        marketing = await _queue(seeded, lead.id, **MARKETING)  # first: it holds up nothing
        reminder = await _queue(seeded, lead.id, **REMINDER)
    assert reminder.held is None
    assert marketing.held is not None and marketing.held.reason.kind == "shabbat"
    nightfall = at("2026-12-12 17:15")
    leaves = marketing.held.until
    assert nightfall <= leaves < nightfall + timedelta(minutes=10)
    assert marketing.send_after == leaves  # the API's send_at says so too

    await _drain_at(seeded, client, friday + timedelta(minutes=1))
    assert await _sent_templates(control) == ["meeting_reminder_he"]
    await _drain_at(seeded, client, at("2026-12-12 17:00"))  # Saturday, before nightfall
    assert (await _row(seeded, marketing.id)).status == "queued"
    assert await _sent_templates(control) == ["meeting_reminder_he"]

    await _drain_at(seeded, client, leaves + timedelta(seconds=1))
    assert await _sent_templates(control) == ["meeting_reminder_he", "followup_interest_he"]
    sent = await _row(seeded, marketing.id)
    assert sent.status == "sent" and sent.attempts == 1


async def test_a_holiday_eve_2027_holds_marketing_until_the_holidays_nightfall(
    seeded: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(seeded)
    eve = at("2027-04-21 19:00")  # Pesach's eve (a Wednesday): candles 18:30
    with time_machine.travel(eve, tick=False):
        marketing = await _queue(seeded, lead.id, **MARKETING)
        reminder = await _queue(seeded, lead.id, **REMINDER)
    assert marketing.held is not None
    assert (marketing.held.reason.name_en, marketing.held.reason.name_he) == ("Pesach", "פסח")
    assert at("2027-04-22 19:48") <= marketing.held.until < at("2027-04-22 19:58")

    await _drain_at(seeded, client, at("2027-04-22 12:00"))  # the holiday itself
    assert await _sent_templates(control) == ["meeting_reminder_he"]
    assert (await _row(seeded, reminder.id)).status == "sent"
    await _drain_at(seeded, client, marketing.held.until + timedelta(seconds=1))
    assert await _sent_templates(control) == ["meeting_reminder_he", "followup_interest_he"]


async def test_queued_at_20_59_and_claimed_at_21_01_it_waits_for_the_morning(
    seeded: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(seeded)
    with time_machine.travel(at("2026-12-08 20:59"), tick=False):  # a Tuesday
        marketing = await _queue(seeded, lead.id, **MARKETING)
    assert marketing.held is None  # not quiet yet: due at once
    late = at("2026-12-08 21:01")
    with time_machine.travel(late, tick=False):
        reminder = await _queue(seeded, lead.id, **REMINDER)

    await _drain_at(seeded, client, late)

    assert await _sent_templates(control) == ["meeting_reminder_he"]  # not held up by it
    held = await _row(seeded, marketing.id)
    morning = at("2026-12-09 08:00")
    assert held.status == "queued" and held.attempts == 0 and held.claimed_by is None
    assert held.next_attempt_at is not None and held.send_after == held.next_attempt_at
    assert morning <= held.next_attempt_at < morning + timedelta(minutes=10)
    explained = QUIET.explain(held.id, held.next_attempt_at)
    assert explained is not None and explained.reason.kind == "night"
    assert (await _row(seeded, reminder.id)).status == "sent"

    await _drain_at(seeded, client, held.next_attempt_at + timedelta(seconds=1))
    assert await _sent_templates(control) == ["meeting_reminder_he", "followup_interest_he"]


async def test_a_worker_holds_marketing_that_was_queued_without_quiet_times(
    seeded: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(seeded)
    saturday = at("2026-09-26 12:00")  # Sukkot on Shabbat
    with time_machine.travel(saturday, tick=False):
        marketing = await _queue(seeded, lead.id, quiet=OFF, **MARKETING)  # as automation does
    assert marketing.held is None

    await _drain_at(seeded, client, saturday + timedelta(minutes=1))

    assert await _sent_templates(control) == []
    held = await _row(seeded, marketing.id)
    assert held.status == "queued" and held.next_attempt_at is not None
    explained = QUIET.explain(held.id, held.next_attempt_at)
    assert explained is not None and explained.reason.name_en == "Sukkot"


async def test_with_quiet_times_off_marketing_leaves_on_shabbat_at_once(
    seeded: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(seeded)
    saturday = at("2027-01-09 12:00")
    with time_machine.travel(saturday, tick=False):
        marketing = await _queue(seeded, lead.id, quiet=OFF, **MARKETING)
    assert marketing.held is None and marketing.send_after is None
    with time_machine.travel(saturday, tick=True):
        await dispatcher(seeded, client, quiet=OFF).drain()
    assert await _sent_templates(control) == ["followup_interest_he"]


async def test_many_held_messages_become_due_spread_over_minutes_and_leave_within_the_cap(
    seeded: Database, client: CloudApiClient, control: SimControl
) -> None:
    leads = [await make_lead(seeded) for _ in range(30)]
    night = at("2027-03-02 23:00")
    with time_machine.travel(night, tick=False):
        queued = [await _queue(seeded, lead.id, **MARKETING) for lead in leads]
    times = sorted(message.held.until for message in queued if message.held is not None)
    assert len(times) == 30
    morning = at("2027-03-03 08:00")
    assert times[0] >= morning and times[-1] < morning + timedelta(minutes=10)
    assert max(times.count(t) for t in times) <= 3  # not all in the first second
    assert times[-1] - times[0] > timedelta(minutes=5)

    await _drain_at(seeded, client, morning + timedelta(minutes=10), messages_per_second=20.0)
    assert len(await _sent_templates(control)) == 30


async def test_held_messages_due_in_the_same_second_leave_within_the_per_second_cap(
    seeded: Database, client: CloudApiClient, control: SimControl
) -> None:
    await control.config(mps_cap=20)
    unspread = QuietHours(spread_s=0)  # the worst case: every held message due at 08:00:00
    leads = [await make_lead(seeded) for _ in range(60)]
    with time_machine.travel(at("2027-03-02 23:00"), tick=False):
        queued = [await _queue(seeded, lead.id, unspread, **MARKETING) for lead in leads]
    morning = at("2027-03-03 08:00")
    assert {message.send_after for message in queued} == {morning}

    with time_machine.travel(morning + timedelta(seconds=1), tick=True):
        workers = [
            dispatcher(seeded, client, quiet=unspread, messages_per_second=20.0) for _ in range(2)
        ]
        await asyncio.gather(*(worker.drain(timeout=60) for worker in workers))

    stats = await control.stats()
    assert stats["counts"].get("accepted") == 60
    refused = stats["counts"].get("rejected_130429", 0)  # the simulator's clock jitter, as
    assert refused <= 3  # in test_limits.py: a rare early send refused, held and sent again
    assert stats["max_attempts_per_second"] <= 20 + refused
