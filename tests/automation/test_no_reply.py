"""The trigger "no reply for N days", with the time machine: a lead we wrote to (the greeting
Meta — the simulator — accepted) who has not answered for three days brings the default
rule's notification, once per silence; a lead who answered is not silent."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from automation.conftest import firings, sent_to
from automation.test_rules_on_inbound import lead_of, now, said
from ingest.conftest import Harness, text_body
from outbox.conftest import config
from ovenai import accounts, auth
from ovenai.auth import Actor
from ovenai.automation.engine import Setup
from ovenai.automation.timed import run_timed
from ovenai.cloudapi import CloudApiClient
from ovenai.columns import utcnow
from ovenai.models import Language, Notification, Role
from ovenai.outbox.bucket_store import DatabaseBuckets
from ovenai.outbox.dispatcher import Dispatcher
from ovenai.settings import Settings

pytestmark = pytest.mark.anyio

RULE = "notify_agent_on_silence"


async def test_a_silent_lead_notifies_the_admins_once_and_an_answer_ends_the_silence(
    harness: Harness, client: CloudApiClient, automation_settings: Settings
) -> None:
    db = harness.db
    setup = Setup.from_settings(automation_settings, db.vault)
    boss = await auth.create_user(db, email="boss@agency.co.il", role=Role.ADMIN)
    english = await auth.create_user(db, email="sam@agency.co.il", role=Role.ADMIN)
    await accounts.set_language(db, actor=Actor.system(), user_id=english.id, language=Language.EN)
    wa_id = "972521250001"
    await harness.deliver(said("wamid.silent.1", "היי, ראיתי את הדירה בחיפה", wa_id=wa_id))
    await Dispatcher(db, client, DatabaseBuckets(db), config()).drain()
    lead = await lead_of(harness, wa_id)
    [(greeting, _)] = await sent_to(db, lead.id)
    assert greeting.status == "sent" and greeting.sent_at is not None
    start = utcnow()

    for days in (2, 3.01, 3.5, 5):
        with time_machine.travel(start + timedelta(days=days), tick=False):
            await run_timed(db, setup)
    async with db.session() as session:
        told = list(await session.scalars(select(Notification).order_by(Notification.user_id)))
    assert sorted((n.user_id, n.text) for n in told) == sorted(
        [
            (boss.id, "הליד לא ענה כבר שלושה ימים להודעה שלנו."),
            (english.id, "The lead has not answered our message for three days."),
        ]
    )
    assert {n.lead_id for n in told} == {lead.id}
    [(outcome, detail)] = [(o, d) for key, o, d in await firings(db, lead.id) if key == RULE]
    assert outcome == "done"
    assert detail == "notified boss@agency.co.il, sam@agency.co.il"

    answer = text_body("wamid.silent.2", "עדיין רלוונטי", wa_id=wa_id, ts=now() + 6 * 86400)
    await harness.deliver(answer)
    with time_machine.travel(start + timedelta(days=12), tick=False):
        await run_timed(db, setup)  # they answered and we have not written since
    assert len([f for f in await firings(db, lead.id) if f[0] == RULE]) == 1
