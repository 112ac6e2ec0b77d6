"""A lead's typed opt-out and opt-in, end to end through the simulator: the lead writes on
WhatsApp (the simulator posts Meta's webhook), the processor applies it with the consent hook
first, ONE confirmation goes out through the outbox and Meta (the simulator) accepts it;
marketing is then refused everywhere with the reason while a viewing's reminder still goes;
"התחל" brings the lead back; traps never opt out; an erased opted-out lead imported again
is opted out at once (the do-not-contact list)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from sqlalchemy import select

from automation.conftest import sent_to
from ingest.conftest import PHONE_ID, WABA, Harness
from outbox.conftest import config
from ovenai import consent_keywords, hooks, lead_consent, lead_import, privacy
from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.columns import new_id
from ovenai.consent import Kind
from ovenai.consent_keywords import CONFIRMATIONS
from ovenai.db import Database
from ovenai.events import InboundMessage, UserIdentity
from ovenai.events.content import TextContent
from ovenai.events.enums import MessageType
from ovenai.lead_fields import LeadCreate
from ovenai.leads import create_lead
from ovenai.models import Direction, Lead, Message
from ovenai.outbox import queue
from ovenai.outbox.bucket_store import DatabaseBuckets
from ovenai.outbox.dispatcher import Dispatcher
from ovenai.outbox.rules import LeadOptedOut, LeadWithoutBasis
from support.ledger import stored_entries
from support.simulator import receiver  # noqa: F401  (a fixture of these tests)
from support.simulator_http import SimControl, WebhookReceiver

pytestmark = pytest.mark.anyio

ZONE = ZoneInfo("Asia/Jerusalem")
SYSTEM = Actor.system()
MARKETING = queue.OutboundRequest(
    template="property_details", params=["נועה", "חיפה", "4", "95", "₪2,450,000"]
)
REMINDER = queue.OutboundRequest(template="meeting_reminder", params=["נועה", "10:00"])


class Writer:
    """A lead who writes through the simulator; what they said is applied by our processor."""

    def __init__(
        self, harness: Harness, control: SimControl, webhooks: WebhookReceiver, wa_id: str
    ) -> None:
        self.harness, self.control, self.receiver, self.wa_id = harness, control, webhooks, wa_id
        self.id = ""
        self.delivered = 0

    async def says(self, text: str) -> None:
        await self.control.inbound(**{"from": self.wa_id}, type="text", text=text, name="נועה")
        await self.catch_up()
        if not self.id:
            found = await self.harness.lead(wa_id=self.wa_id)
            assert found is not None
            self.id = found.id

    async def catch_up(self) -> None:
        """Apply every webhook the simulator posted since the last time (statuses too)."""
        bodies = [received.body for received in self.receiver.accepted()[self.delivered :]]
        self.delivered += len(bodies)
        await self.harness.deliver(*bodies)

    async def row(self) -> Lead:
        async with self.harness.db.session() as session:
            lead = await session.get(Lead, self.id)
            assert lead is not None
            return lead

    async def inbound(self) -> list[Message]:
        async with self.harness.db.session() as session:
            query = select(Message).where(
                Message.lead_id == self.id, Message.direction == Direction.INBOUND
            )
            return list(await session.scalars(query.order_by(Message.created_at)))

    async def texts_sent(self) -> list[str | None]:
        return [opened.text for row, opened in await sent_to(self.harness.db, self.id)]

    async def send(self, request: queue.OutboundRequest) -> queue.QueuedMessage:
        return await queue.send_message(
            self.harness.db, actor=SYSTEM, lead_id=self.id, request=request, waba_id=WABA, zone=ZONE
        )


@pytest.fixture
async def noa(
    harness: Harness,
    control: SimControl,
    receiver: WebhookReceiver,  # noqa: F811  (the fixture imported above)
) -> AsyncIterator[Writer]:
    """A lead created through the API with an explicit opt-in, who then writes in."""
    data = LeadCreate(
        name="נועה כהן",
        phone="+972521119001",
        marketing_basis="opt_in",
        consent_words="כן, אשמח לקבל עדכונים על נכסים חדשים",
    )
    made = await create_lead(harness.db, actor=SYSTEM, data=data)
    lead = Writer(harness, control, receiver, "972521119001")
    lead.id = made.id
    yield lead


def dispatcher(db: Database, client: CloudApiClient) -> Dispatcher:
    return Dispatcher(db, client, DatabaseBuckets(db), config())


async def test_hasser_opts_out_with_one_confirmation_and_marketing_is_refused_everywhere(
    noa: Writer, client: CloudApiClient, control: SimControl
) -> None:
    await noa.says("הסר")

    lead = await noa.row()
    assert lead.opted_out_at is not None
    assert await noa.texts_sent() == [CONFIRMATIONS[(Kind.OPT_OUT, "he")]]
    state = await lead_consent.show(noa.harness.db, actor=SYSTEM, lead_id=noa.id)
    assert [(e.kind, e.source, e.words) for e in state.ledger] == [
        ("opt_in", "api", "כן, אשמח לקבל עדכונים על נכסים חדשים"),
        ("opt_out", "whatsapp_keyword", "הסר"),
    ]
    assert not state.may_market
    assert state.ledger[-1].actor == "lead via WhatsApp"
    # The entry keeps which message said it and when Meta says it was written; the one
    # confirmation is keyed to that message, so it is queued once whoever applies it.
    [said] = await noa.inbound()
    written = noa.receiver.accepted()[0].body
    [message] = orjson.loads(written)["entry"][0]["changes"][0]["value"]["messages"]
    at = datetime.fromtimestamp(int(message["timestamp"]), UTC).isoformat()
    assert (await stored_entries(noa.harness.db, noa.id))[-1] == (
        "opt_out",
        "whatsapp_keyword",
        {"words": "הסר", "message_id": said.id, "written_at": at},
    )
    [(confirmation, _)] = await sent_to(noa.harness.db, noa.id)
    assert confirmation.idempotency_key == f"consent:{said.id}"
    # The confirmation leaves, and Meta (the simulator) accepts it: the lead wrote, so the
    # window is open.
    await dispatcher(noa.harness.db, client).drain()
    [accepted] = (await control.outbox())["messages"]
    assert accepted["body"]["text"]["body"] == CONFIRMATIONS[(Kind.OPT_OUT, "he")]

    # Saying it again changes nothing and confirms nothing again.
    await noa.says("הסירו אותי")
    assert len(await noa.texts_sent()) == 1
    # Marketing is refused with the reason; a viewing's reminder (utility) still goes.
    with pytest.raises(LeadOptedOut) as refused:
        await noa.send(MARKETING)
    assert "opted out of marketing" in refused.value.message
    reminder = await noa.send(REMINDER)
    await dispatcher(noa.harness.db, client).drain()
    sent = (await control.outbox())["messages"]
    assert [m["body"]["type"] for m in sent] == ["text", "template"]
    assert sent[1]["body"]["template"]["name"] == "meeting_reminder_he"
    assert reminder.status == "queued"


async def test_hathel_brings_the_lead_back_with_one_confirmation(noa: Writer) -> None:
    await noa.says("תפסיקו לשלוח לי הודעות")
    assert (await noa.row()).opted_out_at is not None

    await noa.says("התחל")

    lead = await noa.row()
    assert lead.opted_out_at is None and lead.marketing_basis == "opt_in"
    assert await noa.texts_sent() == [
        CONFIRMATIONS[(Kind.OPT_OUT, "he")],
        CONFIRMATIONS[(Kind.OPT_IN, "he")],
    ]
    assert (await noa.send(MARKETING)).status == "queued"


@pytest.mark.parametrize(
    "text", ["אל תסירו אותי מהרשימה", "stop by tomorrow", "אני רוצה להתחיל לחפש דירה"]
)
async def test_traps_never_opt_out_or_in(noa: Writer, text: str) -> None:
    await noa.says(text)
    lead = await noa.row()
    assert lead.opted_out_at is None
    state = await lead_consent.show(noa.harness.db, actor=SYSTEM, lead_id=noa.id)
    assert [e.source for e in state.ledger] == ["api"]
    assert CONFIRMATIONS[(Kind.OPT_OUT, "he")] not in await noa.texts_sent()


async def test_hathel_is_an_opt_in_for_a_lead_without_a_basis_and_nothing_for_one_with_it(
    noa: Writer,
    harness: Harness,
    control: SimControl,
    receiver: WebhookReceiver,  # noqa: F811  (the fixture imported above)
) -> None:
    await noa.says("התחל")  # opted in already
    state = await lead_consent.show(harness.db, actor=SYSTEM, lead_id=noa.id)
    assert [e.source for e in state.ledger] == ["api"]
    assert CONFIRMATIONS[(Kind.OPT_IN, "he")] not in await noa.texts_sent()  # (automation answers)

    stranger = Writer(harness, control, receiver, "972521119005")
    stranger.delivered = noa.delivered
    await stranger.says("התחל")

    state = await lead_consent.show(harness.db, actor=SYSTEM, lead_id=stranger.id)
    assert (state.marketing_basis, state.marketing_basis_source) == ("opt_in", "whatsapp_keyword")
    assert [(e.kind, e.words, e.actor) for e in state.ledger] == [
        ("opt_in", "התחל", "lead via WhatsApp")
    ]
    assert (await stranger.texts_sent()).count(CONFIRMATIONS[(Kind.OPT_IN, "he")]) == 1


async def test_what_the_lead_did_not_say_now_changes_no_consent(noa: Writer) -> None:
    """An edit, a revoke, a system notice or a welcome request is not the lead saying "STOP"
    now, whatever text it carries."""
    db = noa.harness.db
    for kind in (
        MessageType.EDIT,
        MessageType.REVOKE,
        MessageType.SYSTEM,
        MessageType.REQUEST_WELCOME,
    ):
        event = InboundMessage(
            dedupe_key=f"test:{kind}",
            waba_id=WABA,
            phone_number_id=PHONE_ID,
            display_phone_number="97233760000",
            message_id=f"wamid.{kind}",
            timestamp=datetime.now(UTC),
            type=kind,
            type_raw=kind.value,
            sender=UserIdentity(wa_id=noa.wa_id),
            text="STOP",
            content=TextContent(body="STOP"),
        )
        async with db.session() as session:
            lead = await session.get(Lead, noa.id)
            assert lead is not None
            message = Message(id=new_id(), lead_id=noa.id, direction="inbound", type=kind.value)
            arrival = hooks.Arrival(lead, message, event)
            assert await consent_keywords.on_inbound(session, db.vault, [arrival]) == [None]
            await session.commit()
    assert (await noa.row()).opted_out_at is None
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=noa.id)
    assert [e.source for e in state.ledger] == ["api"]


async def test_install_puts_the_consent_hook_first_and_uninstall_takes_each_out(
    db: Database,
) -> None:
    async def earlier(*_args: object) -> None:
        """A hook installed before consent's (automation's, the score's)."""

    hooks.after_inbound.insert(0, earlier)
    previous = consent_keywords.install(db.vault)
    try:
        assert hooks.after_inbound[:2] == [consent_keywords.consent_after_inbound, earlier]
        assert consent_keywords.consent_after_status in hooks.after_status
        assert consent_keywords.consent_after_send_failed in hooks.after_send_failed
        consent_keywords.uninstall()
        assert consent_keywords.consent_after_inbound not in hooks.after_inbound
        assert consent_keywords.consent_after_status not in hooks.after_status
        assert consent_keywords.consent_after_send_failed not in hooks.after_send_failed
    finally:
        hooks.after_inbound.remove(earlier)
        consent_keywords.uninstall()
        if previous is not None:
            consent_keywords.install(previous)


async def test_an_english_lead_is_confirmed_in_english(
    harness: Harness,
    control: SimControl,
    receiver: WebhookReceiver,  # noqa: F811  (the fixture imported above)
) -> None:
    data = LeadCreate(name="Dana", phone="+972521119002", language="en", opted_in=True)
    made = await create_lead(harness.db, actor=SYSTEM, data=data)
    dana = Writer(harness, control, receiver, "972521119002")
    dana.id = made.id
    await dana.says("Unsubscribe")
    assert await dana.texts_sent() == [CONFIRMATIONS[(Kind.OPT_OUT, "en")]]


async def test_a_stranger_who_writes_has_no_basis_so_marketing_is_refused(
    harness: Harness,
    control: SimControl,
    receiver: WebhookReceiver,  # noqa: F811  (the fixture imported above)
) -> None:
    stranger = Writer(harness, control, receiver, "972521119003")
    await stranger.says("היי, ראיתי את הדירה בחיפה")
    with pytest.raises(LeadWithoutBasis):
        await stranger.send(MARKETING)
    assert (await stranger.row()).marketing_basis is None


async def test_an_erased_lead_who_opted_out_and_is_imported_again_is_opted_out_at_once(
    noa: Writer, tmp_path: Path
) -> None:
    await noa.says("STOP")
    db = noa.harness.db
    await privacy.erase(db, actor=SYSTEM, lead_id=noa.id)
    csv = tmp_path / "leads.csv"
    csv.write_text(
        "שם,טלפון,בסיס שיווק,נוסח הסכמה\nנועה כהן,052-111-9001,opt_in,כן\n", encoding="utf-8"
    )

    report = await lead_import.import_leads(db, path=csv, actor=SYSTEM)

    assert (report.imported, report.rejected) == (1, [])
    async with db.session() as session:
        [again] = list(await session.scalars(select(Lead).where(Lead.erased_at.is_(None))))
    assert again.opted_out_at is not None
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=again.id)
    assert [(e.kind, e.source) for e in state.ledger] == [
        ("opt_in", "import"),
        ("opt_out", "do_not_contact"),
    ]
    with pytest.raises(LeadOptedOut):
        await queue.send_message(
            db, actor=SYSTEM, lead_id=again.id, request=MARKETING, waba_id=WABA, zone=ZONE
        )


async def test_an_inquiry_told_it_can_refuse_gets_the_30a_basis_once_the_notice_is_sent(
    harness: Harness,
    client: CloudApiClient,
    control: SimControl,
    receiver: WebhookReceiver,  # noqa: F811  (the fixture imported above)
) -> None:
    stranger = Writer(harness, control, receiver, "972521119004")
    await stranger.says("היי, ראיתי את הדירה בחיפה, עדיין רלוונטית?")
    told = "כן, עדיין פנויה! נשמח לשלוח לך גם נכסים דומים. להסרה השיבו הסר"
    await stranger.send(queue.OutboundRequest(text=told))
    await dispatcher(harness.db, client).drain()  # the welcome (no notice), then the notice
    assert (await stranger.row()).marketing_basis is None  # queued or sent is not enough yet

    deadline = time.monotonic() + 10
    while (await stranger.row()).marketing_basis is None:  # Meta's "sent" statuses arrive
        assert time.monotonic() < deadline, "the notice's status never gave the basis"
        await asyncio.sleep(0.05)
        await stranger.catch_up()

    state = await lead_consent.show(harness.db, actor=SYSTEM, lead_id=stranger.id)
    assert (state.marketing_basis, state.marketing_basis_source) == (
        "inquiry_30a",
        "inquiry_notice",
    )
    assert [(e.kind, e.words) for e in state.ledger] == [("basis", told)]
    assert (await stranger.send(MARKETING)).status == "queued"


async def _erased_after_stop(noa: Writer) -> Writer:
    """Noa opts out and is erased; the same number, as a new lead about to write."""
    await noa.says("STOP")
    await privacy.erase(noa.harness.db, actor=SYSTEM, lead_id=noa.id)
    again = Writer(noa.harness, noa.control, noa.receiver, noa.wa_id)
    again.delivered = noa.delivered
    return again


async def test_an_erased_opted_out_lead_who_writes_again_is_opted_out_at_once(
    noa: Writer,
) -> None:
    again = await _erased_after_stop(noa)
    db = noa.harness.db

    await again.says("היי, יש לכם דירות בחיפה?")

    assert again.id != noa.id
    assert (await again.row()).opted_out_at is not None
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=again.id)
    assert [(e.kind, e.source) for e in state.ledger] == [("opt_out", "do_not_contact")]
    assert await again.texts_sent() == []  # nothing automated, no confirmation


async def test_an_erased_opted_out_lead_who_writes_hathel_is_back_and_stays_back(
    noa: Writer,
) -> None:
    again = await _erased_after_stop(noa)
    db = noa.harness.db
    await again.says("היי, יש לכם דירות בחיפה?")  # opted out at once: the number is listed

    await again.says("התחל")
    await again.says("מה המחיר של הדירה?")  # the list no longer speaks for the number

    assert (await again.row()).opted_out_at is None
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=again.id)
    assert [(e.kind, e.source) for e in state.ledger] == [
        ("opt_out", "do_not_contact"),
        ("opt_in", "whatsapp_keyword"),
    ]


async def test_hathel_and_the_next_words_in_one_batch_leave_the_listed_lead_back(
    noa: Writer,
) -> None:
    """The do-not-contact list is read once a run, for the leads not opted out when it
    starts: a listed, opted-out lead whose "התחל" and next message come in one batch is
    back after both (the opt-in took the number off the list), not opted out again by the
    list as read before it."""
    again = await _erased_after_stop(noa)
    db = noa.harness.db
    await again.says("היי, יש לכם דירות בחיפה?")  # opted out at once: the number is listed
    for text in ("התחל", "מה המחיר של הדירה?"):
        await again.control.inbound(**{"from": again.wa_id}, type="text", text=text, name="נועה")
    await again.catch_up()  # both bodies applied together

    assert (await again.row()).opted_out_at is None
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=again.id)
    assert [(e.kind, e.source) for e in state.ledger] == [
        ("opt_out", "do_not_contact"),
        ("opt_in", "whatsapp_keyword"),
    ]
