"""The default rules on what leads send, through the real processor: a stranger is greeted in
their language, once; the stage moves on the first answer; the guards hold (opt-out, an
automatic answer, the daily cap, once per event); the log says what happened and why."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from automation.conftest import firings, sent_to
from ingest.conftest import Harness, envelope, text_body
from ovenai import automation, property_files
from ovenai.auth import Actor
from ovenai.automation.definitions import RuleDefinition
from ovenai.columns import utcnow
from ovenai.consent import Kind
from ovenai.consent_keywords import CONFIRMATIONS
from ovenai.db import Database
from ovenai.media_store import LocalStore
from ovenai.models import AutomationFiring, Lead, Message, Property, PropertyFileRole
from ovenai.sealing import MESSAGES

pytestmark = pytest.mark.anyio


def now() -> int:
    """Meta's timestamp of a message sent now (the lead's 24-hour window is open)."""
    return int(time.time())


BROCHURE = (Path(__file__).parents[1] / "fixtures" / "property_files" / "brochure.pdf").read_bytes()


def said(wamid: str, text: str, *, wa_id: str, after: int = 0, **extra: Any) -> bytes:
    """A text message the lead sent ``after`` seconds from now."""
    return text_body(wamid, text, wa_id=wa_id, ts=now() + after, **extra)


def button_body(wamid: str, reply_id: str, title: str, *, wa_id: str, ts: int) -> bytes:
    """A tap on an interactive reply button."""
    message = {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(ts),
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}},
    }
    contact = {"profile": {"name": "Dana"}, "wa_id": wa_id}
    return envelope({"contacts": [contact], "messages": [message]})


async def lead_of(harness: Harness, wa_id: str) -> Lead:
    async with harness.db.session() as session:
        found = list(await session.scalars(select(Lead)))
    record = await harness.lead(wa_id=wa_id)
    assert record is not None
    return next(lead for lead in found if lead.id == record.id)


async def test_a_hebrew_stranger_is_greeted_in_hebrew_once(harness: Harness) -> None:
    wa_id = "972521110001"
    first = said("wamid.he.1", "היי, ראיתי את הדירה בתל אביב", wa_id=wa_id, name="נועה")
    await harness.deliver(first)
    lead = await lead_of(harness, wa_id)
    assert (lead.language, lead.want_city, lead.stage) == ("he", "תל אביב", "contacted")
    [(row, opened)] = await sent_to(harness.db, lead.id)
    assert (row.template_name, row.template_language, row.status) == (
        "welcome_new_lead_he",
        "he",
        "queued",
    )
    assert opened.template_params == ["נועה", "תל אביב"]
    assert row.rule_id is not None
    # A second message is not a first contact; the same body again is not a new message.
    await harness.deliver(said("wamid.he.2", "יש חניה?", wa_id=wa_id, after=100))
    await harness.deliver(first)
    assert len(await sent_to(harness.db, lead.id)) == 1
    log = await firings(harness.db, lead.id)
    assert log == [
        ("greet_new_whatsapp_lead", "done", "queued template welcome_new_lead_he (he)"),
        ("first_answer_contacted", "done", "stage new → contacted"),
    ]  # the second message: the lead was no longer new, so that rule did not fire


async def test_an_english_stranger_is_greeted_in_english(harness: Harness) -> None:
    wa_id = "972521110002"
    body = said("wamid.en.1", "Hi, I saw the apartment in Haifa", wa_id=wa_id, name="Dan")
    await harness.deliver(body)
    lead = await lead_of(harness, wa_id)
    [(row, opened)] = await sent_to(harness.db, lead.id)
    assert (lead.language, row.template_name) == ("en", "welcome_new_lead_en")
    assert opened.template_params == ["Dan", "Haifa"]
    assert opened.text is not None and "property in Haifa" in opened.text


async def test_a_stranger_naming_no_town_gets_the_rule_s_free_text_inside_the_window(
    harness: Harness,
) -> None:
    wa_id = "972521110003"
    await harness.deliver(said("wamid.nt.1", "שלום, מעוניין בדירה", wa_id=wa_id))
    lead = await lead_of(harness, wa_id)
    [(row, opened)] = await sent_to(harness.db, lead.id)
    assert (row.type, row.template_name) == ("text", None)
    assert opened.text == "שלום, תודה על פנייתך! נחזור אליך בהקדם עם פרטים נוספים."
    [(key, outcome, detail), _] = await firings(harness.db, lead.id)
    assert (key, outcome) == ("greet_new_whatsapp_lead", "done")
    assert "needs property_city" in detail and detail.endswith("queued free text")


async def test_an_opt_out_as_first_words_is_never_answered(harness: Harness) -> None:
    wa_id = "972521110004"
    await harness.deliver(said("wamid.oo.1", "תסירו אותי מהרשימה", wa_id=wa_id))
    lead = await lead_of(harness, wa_id)
    assert lead.opted_out_at is not None  # applied before the rules ran (ovenai.consent)
    # Only the opt-out's one confirmation (ovenai.consent_keywords); no greeting.
    [(row, opened)] = await sent_to(harness.db, lead.id)
    assert row.rule_id is None and opened.text == CONFIRMATIONS[(Kind.OPT_OUT, "he")]
    log = dict(
        (key, (outcome, detail)) for key, outcome, detail in await firings(harness.db, lead.id)
    )
    assert "greet_new_whatsapp_lead" not in log  # the confirmation was the first contact


async def accepted_by_meta(db: Database, lead_id: str) -> None:
    """The lead's queued messages marked sent now, as the dispatcher does on Meta's answer."""
    async with db.session() as session:
        for row in await session.scalars(
            select(Message).where(Message.lead_id == lead_id, Message.status == "queued")
        ):
            row.status, row.sent_at = "sent", utcnow()
        await session.commit()


async def add_rule(db: Database, key: str, raw: dict[str, Any]) -> None:
    definition = RuleDefinition.model_validate(raw)
    await automation.create_rule(db, actor=Actor.system(), key=key, definition=definition)


async def test_a_message_seconds_after_an_automated_one_is_not_answered(harness: Harness) -> None:
    await add_rule(
        harness.db,
        "answer_parking",
        {
            "name": "Parking",
            "trigger": {"kind": "message", "keywords": ["חניה"]},
            "actions": [{"type": "send_text", "text": {"he": "יש חניה בבניין"}}],
        },
    )
    wa_id = "972521110005"
    await harness.deliver(said("wamid.aa.1", "היי, ראיתי את הדירה בחיפה", wa_id=wa_id))
    lead = await lead_of(harness, wa_id)
    await accepted_by_meta(harness.db, lead.id)
    # The lead's phone answers our greeting by itself, within seconds.
    away = "תודה על פנייתך, אחזור אליך בהקדם. יש חניה?"
    await harness.deliver(said("wamid.aa.2", away, wa_id=wa_id, after=1))
    lead = await lead_of(harness, wa_id)
    assert len(await sent_to(harness.db, lead.id)) == 1  # the greeting only
    skipped = [row for row in await firings(harness.db, lead.id) if row[0] == "answer_parking"]
    assert skipped == [
        (
            "answer_parking",
            "skipped",
            "the message came within seconds of an automated one: an automatic answer",
        )
    ]


CALL_BACK = {
    "name": "Call back",
    "trigger": {"kind": "button", "intents": ["wants_call"]},
    "actions": [{"type": "send_text", "text": {"he": "נחזור אליך בטלפון", "en": "We'll call"}}],
}
"""A rule answering every tap asking for a call."""


async def test_taps_are_answered_up_to_the_daily_cap(harness: Harness) -> None:
    await add_rule(harness.db, "call_back", CALL_BACK)
    wa_id = "972521110006"
    await harness.deliver(said("wamid.cap.0", "היי, ראיתי את הדירה בחיפה", wa_id=wa_id))
    for n in range(1, 4):  # the greeting was one of the three
        tap = button_body(f"wamid.cap.{n}", "call_me", "התקשרו אליי", wa_id=wa_id, ts=now() + n)
        await harness.deliver(tap)
    lead = await lead_of(harness, wa_id)
    sent = await sent_to(harness.db, lead.id)
    assert [opened.text for _, opened in sent[1:]] == ["נחזור אליך בטלפון"] * 2
    taps = [row for row in await firings(harness.db, lead.id) if row[0] == "call_back"]
    assert [outcome for _, outcome, _ in taps] == ["done", "done", "skipped"]
    assert taps[-1][2] == "the daily cap of 3 automated messages for this lead is reached"


async def test_a_family_without_the_lead_s_language_says_so(harness: Harness) -> None:
    await add_rule(
        harness.db,
        "follow_up",
        {
            "name": "Follow up",
            "trigger": {"kind": "message", "keywords": ["viewing"]},
            "conditions": {"languages": ["en"]},
            "actions": [{"type": "send_template", "family": "followup_interest"}],
        },
    )
    wa_id = "972521110007"
    await harness.deliver(said("wamid.fam.1", "Hello, I saw the flat in Haifa", wa_id=wa_id))
    body = said("wamid.fam.2", "Can I book a viewing tomorrow?", wa_id=wa_id, after=60)
    await harness.deliver(body)
    lead = await lead_of(harness, wa_id)
    [(_, outcome, detail)] = [
        row for row in await firings(harness.db, lead.id) if row[0] == "follow_up"
    ]
    assert outcome == "skipped"
    assert detail == "not sent: template followup_interest does not exist in language en"


async def test_a_rule_whose_conditions_do_not_hold_does_not_fire(harness: Harness) -> None:
    for key, score in (("hot_only", 50), ("any_score", 0)):
        await add_rule(
            harness.db,
            key,
            {
                "name": key,
                "trigger": {"kind": "message"},
                "conditions": {"min_score": score, "languages": ["he"]},
                "actions": [{"type": "set_stage", "stage": "negotiation"}],
            },
        )
    wa_id = "972521110008"
    await harness.deliver(said("wamid.c.1", "שלום", wa_id=wa_id))
    lead = await lead_of(harness, wa_id)
    keys = [key for key, _, _ in await firings(harness.db, lead.id)]
    assert "hot_only" not in keys and "any_score" in keys
    assert lead.stage == "negotiation"


async def test_a_disabled_rule_does_nothing_and_a_processed_body_is_not_acted_on_twice(
    harness: Harness,
) -> None:
    await automation.update_rule(
        harness.db, actor=Actor.system(), rule="greet_new_whatsapp_lead", enabled=False
    )
    wa_id = "972521110009"
    await harness.deliver(said("wamid.d.1", "היי, ראיתי את הדירה בתל אביב", wa_id=wa_id))
    lead = await lead_of(harness, wa_id)
    assert await sent_to(harness.db, lead.id) == []
    async with harness.db.session() as session:
        count = len(list(await session.scalars(select(AutomationFiring.id))))
        messages = len(list(await session.scalars(select(Message.id))))
    assert (count, messages) == (1, 1)  # first_answer_contacted only; the inbound message


async def test_a_lead_asking_the_price_gets_its_listing_s_brochure_once_it_has_one(
    harness: Harness, tmp_path: Path
) -> None:
    await add_rule(
        harness.db,
        "brochure",
        {
            "name": "Brochure on request",
            "trigger": {"kind": "message", "intents": ["asks_price"]},
            "actions": [
                {
                    "type": "send_listing_file",
                    "role": "brochure",
                    "caption": {"he": "הנה החוברת", "en": "Here is the brochure"},
                }
            ],
        },
    )
    wa_id = "972521110018"
    await harness.deliver(said("wamid.bro.1", "היי, ראיתי את הדירה בחיפה", wa_id=wa_id))
    lead = await lead_of(harness, wa_id)
    asked = said("wamid.bro.2", "כמה עולה הדירה?", wa_id=wa_id, after=60)
    await harness.deliver(asked)
    [(_, outcome, detail)] = [
        row for row in await firings(harness.db, lead.id) if row[0] == "brochure"
    ]
    assert (outcome, detail) == ("skipped", "no brochure to send: the lead has no listing")

    async with harness.db.session() as session:
        listing = Property(city="חיפה", title="דירת גן")
        session.add(listing)
        await session.commit()
        row = await session.get(Lead, lead.id)
        assert row is not None
        row.property_id = listing.id
        await session.commit()
    brochure = await property_files.add_file(
        harness.db,
        LocalStore(tmp_path),
        actor=Actor.system(),
        property_id=listing.id,
        role=PropertyFileRole.BROCHURE,
        filename="garden.pdf",
        data=BROCHURE,
    )
    again = said("wamid.bro.3", "מה המחיר של הנכס?", wa_id=wa_id, after=120)
    await harness.deliver(again)

    sent = await sent_to(harness.db, lead.id)
    files = [(row.type, opened.text) for row, opened in sent if row.type == "document"]
    assert files == [("document", "הנה החוברת")]
    (row, _) = next(pair for pair in sent if pair[0].type == "document")
    key = await harness.db.vault.key("lead", lead.id)
    payload = json.loads(MESSAGES.cipher(key, row.id).open("payload", row.payload_enc) or "{}")
    assert payload["file_id"] == brochure.id and row.rule_id is not None
