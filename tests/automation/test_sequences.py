"""Follow-up sequences, through the real processor and the timed job with the time machine:
a step sends free text while the lead's window is open and the step's template once it has
closed, each step once; the sequence stops the moment the lead answers, when they opt out
and when their stage changes, and says why; the enrolment is in the database, so another
run (a restarted worker) carries on where the last one stopped."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from automation.conftest import firings, sent_to
from automation.test_rules_on_inbound import add_rule, lead_of, now, said
from ingest.conftest import Harness, text_body
from outbox.conftest import config
from ovenai import automation, privacy
from ovenai.auth import Actor
from ovenai.automation.engine import Setup
from ovenai.automation.timed import run_timed
from ovenai.cloudapi import CloudApiClient
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.lead_fields import LeadUpdate
from ovenai.leads import update_lead
from ovenai.models import SequenceEnrolment
from ovenai.outbox.bucket_store import DatabaseBuckets
from ovenai.outbox.dispatcher import Dispatcher
from ovenai.settings import Settings
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio

KEY = "follow_up_on_request"
BSUID = "IL.5550001112223334445"  # text_body's
FIRST, SECOND, THIRD = "שלב ראשון: מה שלומך?", "שלב שני: עדיין מחפשים?", "שלב שלישי: אנחנו כאן"
SEQUENCE: dict[str, Any] = {
    "name": "רצף מעקב לבדיקה",
    "trigger": {"kind": "message", "keywords": ["מעקב"]},
    "actions": [
        {
            "type": "start_sequence",
            "steps": [
                {"after_days": 0.5, "text": {"he": FIRST}, "family": "document_request"},
                {"after_days": 2, "text": {"he": SECOND}, "family": "document_request"},
                {"after_days": 4, "text": {"he": THIRD}, "family": "document_request"},
            ],
        }
    ],
}


async def enrolled(harness: Harness, wa_id: str) -> tuple[str, datetime]:
    """A stranger who asks for a follow-up (greeted, enrolled); (lead id, when)."""
    await add_rule(harness.db, KEY, SEQUENCE)
    await harness.deliver(said(f"wamid.seq.{wa_id}", "היי, אשמח למעקב על הדירה", wa_id=wa_id))
    lead = await lead_of(harness, wa_id)
    return lead.id, utcnow()


async def enrolment(db: Database, lead_id: str) -> SequenceEnrolment:
    async with db.session() as session:
        [row] = list(
            await session.scalars(
                select(SequenceEnrolment).where(SequenceEnrolment.lead_id == lead_id)
            )
        )
    return row


async def texts_and_templates(db: Database, lead_id: str) -> list[str]:
    """What the lead was sent after the greeting: the free texts, and the template names."""
    sent = await sent_to(db, lead_id)
    return [row.template_name or opened.text or "" for row, opened in sent[1:]]


async def run_at(db: Database, setup: Setup, at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        await run_timed(db, setup)


async def test_text_in_the_window_then_the_template_and_an_answer_stops_it(
    harness: Harness, automation_settings: Settings
) -> None:
    db = harness.db
    setup = Setup.from_settings(automation_settings, db.vault)
    lead, start = await enrolled(harness, "972521240001")
    row = await enrolment(db, lead)
    assert (row.next_step, row.stopped_at, row.stage) == (0, None, "contacted")

    await run_at(db, setup, start + timedelta(hours=11))  # not due yet
    assert await texts_and_templates(db, lead) == []
    await run_at(db, setup, start + timedelta(hours=12, minutes=1))  # the window is open
    await run_at(db, setup, start + timedelta(hours=13))  # once
    assert await texts_and_templates(db, lead) == [FIRST]
    await run_at(db, setup, start + timedelta(days=2, minutes=1))  # the window has closed
    assert await texts_and_templates(db, lead) == [FIRST, "document_request_he"]

    answer = text_body("wamid.seq.answer", "תודה, נדבר", wa_id="972521240001", ts=now() + 3 * 86400)
    await harness.deliver(answer)  # the lead answers on the third day
    row = await enrolment(db, lead)
    assert (row.stopped_reason, row.next_step, row.due_at) == ("answered", 2, None)
    await run_at(db, setup, start + timedelta(days=4, minutes=1))
    assert await texts_and_templates(db, lead) == [FIRST, "document_request_he"]
    steps = [(o, d) for key, o, d in await firings(db, lead) if key == KEY]
    assert steps == [
        ("done", steps[0][1]),
        ("done", "queued free text"),
        ("done", "queued template document_request_he (he)"),
    ]
    assert steps[0][1].startswith("enrolled in the sequence of 3 steps")


async def test_an_opt_out_stops_the_sequence_at_its_next_step(
    harness: Harness, automation_settings: Settings
) -> None:
    db = harness.db
    setup = Setup.from_settings(automation_settings, db.vault)
    lead, start = await enrolled(harness, "972521240002")
    await run_at(db, setup, start + timedelta(hours=12, minutes=1))
    assert await texts_and_templates(db, lead) == [FIRST]
    update = LeadUpdate(opted_in=False)  # an agent records that the lead asked to stop
    await update_lead(db, actor=Actor.system(), lead_id=lead, changes=update)
    await run_at(db, setup, start + timedelta(days=2, minutes=1))
    assert await texts_and_templates(db, lead) == [FIRST]
    row = await enrolment(db, lead)
    assert (row.stopped_reason, row.next_step) == ("opted_out", 1)
    logged = [(o, d) for key, o, d in await firings(db, lead) if key == KEY]
    assert logged[-1] == ("skipped", "sequence stopped: opted_out")


async def test_a_change_of_stage_stops_the_sequence_at_once(
    harness: Harness, automation_settings: Settings
) -> None:
    db = harness.db
    setup = Setup.from_settings(automation_settings, db.vault)
    lead, start = await enrolled(harness, "972521240003")
    update = LeadUpdate(stage="negotiation")  # an agent moves the lead on
    await update_lead(db, actor=Actor.system(), lead_id=lead, changes=update)
    row = await enrolment(db, lead)
    assert (row.stopped_reason, row.next_step) == ("stage_changed", 0)
    await run_at(db, setup, start + timedelta(hours=12, minutes=1))
    assert await texts_and_templates(db, lead) == []


async def test_a_sequence_whose_rule_is_switched_off_stops(
    harness: Harness, automation_settings: Settings
) -> None:
    db = harness.db
    setup = Setup.from_settings(automation_settings, db.vault)
    lead, start = await enrolled(harness, "972521240004")
    await automation.update_rule(db, actor=Actor.system(), rule=KEY, enabled=False)
    await run_at(db, setup, start + timedelta(hours=12, minutes=1))
    assert await texts_and_templates(db, lead) == []
    assert (await enrolment(db, lead)).stopped_reason == "rule_off"


async def test_the_default_sequence_enrols_a_lead_after_a_viewing(
    automated: Database, automation_settings: Settings
) -> None:
    from automation.test_timed_rules import MONDAY, at, lead_with_viewing

    setup = Setup.from_settings(automation_settings, automated.vault)
    with time_machine.travel(at(MONDAY, 9), tick=False):
        lead, _ = await lead_with_viewing(automated, at(MONDAY, 10), phone="+972521240005")
    await run_at(automated, setup, at(MONDAY, 13, 31))  # three hours after it ended
    row = await enrolment(automated, lead)
    assert (row.stage, row.next_step) == ("viewing_done", 0)
    assert row.due_at == at(MONDAY, 13, 31) + timedelta(days=1)
    [(key, outcome, detail)] = [
        f for f in await firings(automated, lead) if f[0] == "follow_up_sequence_after_viewing"
    ]
    assert (outcome, detail) == (
        "done",
        "enrolled in the sequence of 3 steps, the first step due 08/12 13:31",
    )


async def test_the_steps_reach_meta_as_a_text_then_a_template(
    harness: Harness,
    automation_settings: Settings,
    client: CloudApiClient,
    control: SimControl,
) -> None:
    db = harness.db
    setup = Setup.from_settings(automation_settings, db.vault)
    wa_id = "972521240006"
    lead, start = await enrolled(harness, wa_id)
    # The simulator (Meta) must know the window too: it refuses free text outside it.
    await control.inbound(**{"from": wa_id, "user_id": BSUID}, type="text", text="היי")
    dispatcher = Dispatcher(db, client, DatabaseBuckets(db), config())
    await dispatcher.drain()  # the greeting
    for at in (start + timedelta(hours=12, minutes=1), start + timedelta(days=2, minutes=1)):
        await run_at(db, setup, at)
        with time_machine.travel(at, tick=True):  # the step is due then, for Meta too
            await dispatcher.drain()
    accepted = [record["body"] for record in (await control.outbox())["messages"]]
    assert [body["type"] for body in accepted] == ["text", "text", "template"]  # no town named
    assert accepted[1]["text"]["body"] == FIRST
    assert accepted[2]["template"]["name"] == "document_request_he"
    sent = await sent_to(db, lead)
    assert [row.status for row, _ in sent] == ["sent", "sent", "sent"]


async def test_erasing_the_lead_removes_its_enrolments(harness: Harness) -> None:
    lead, _ = await enrolled(harness, "972521240007")
    await privacy.erase_lead(harness.db, actor=Actor.system(), lead_id=lead)
    async with harness.db.session() as session:
        left = await session.scalars(
            select(SequenceEnrolment).where(SequenceEnrolment.lead_id == lead)
        )
        assert list(left) == []
