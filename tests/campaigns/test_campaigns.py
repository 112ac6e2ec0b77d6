"""A property-match campaign through the simulator: the Haifa flat reaches exactly the
matching leads with a basis and no opt-out, each in their language with the listing's
fields; the statuses Meta (the simulator) sends back make a report that adds up; pause
holds, resume releases, cancel cancels visibly."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from campaigns.conftest import SYSTEM, Cast, add_lead
from ingest.conftest import WABA, Harness
from outbox.conftest import config
from ovenai import campaigns, conversations, privacy, privacy_export, property_files
from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.conversations import open_message
from ovenai.db import Database
from ovenai.errors import Conflict, NotFound, PermissionDenied
from ovenai.media_store import LocalStore
from ovenai.models import (
    Direction,
    Message,
    MessageStatus,
    MessageTemplate,
    PropertyFileRole,
    Role,
)
from ovenai.outbox import queue
from ovenai.outbox.bucket_store import DatabaseBuckets
from ovenai.outbox.dispatcher import Dispatcher
from ovenai.sealing import MESSAGES
from support.simulator_http import SimControl, WebhookReceiver

pytestmark = pytest.mark.anyio

ZONE = ZoneInfo("Asia/Jerusalem")
PHOTO = (Path(__file__).parents[1] / "fixtures" / "property_files" / "living_room.jpg").read_bytes()
REMINDER = queue.OutboundRequest(template="meeting_reminder", params=["נועה", "10:00"])


async def _outbound(db: Database) -> list[Message]:
    async with db.session() as session:
        query = select(Message).where(Message.direction == Direction.OUTBOUND)
        return list(await session.scalars(query.order_by(Message.lead_id)))


async def _bring_back_statuses(
    harness: Harness, receiver: WebhookReceiver, *, statuses: int
) -> None:
    """Wait for ``statuses`` status webhooks from the simulator and apply them all."""
    deadline = time.monotonic() + 15
    while True:
        bodies = [received.json() for received in receiver.accepted()]
        seen = sum(
            len(change["value"].get("statuses", []))
            for body in bodies
            for entry in body["entry"]
            for change in entry["changes"]
        )
        if seen >= statuses:
            break
        assert time.monotonic() < deadline, f"only {seen} statuses came back"
        await asyncio.sleep(0.05)
    await harness.deliver(*(received.body for received in receiver.accepted()))


def _dispatcher(db: Database, client: CloudApiClient) -> Dispatcher:
    return Dispatcher(db, client, DatabaseBuckets(db), config())


async def test_the_preview_names_who_is_reached_and_who_is_excluded_and_why(
    harness: Harness, haifa: Cast
) -> None:
    found = await campaigns.preview(
        harness.db, actor=SYSTEM, property_id=haifa.property_id, waba_id=WABA
    )

    assert {lead.lead_id for lead in found.recipients} == set(haifa.reached.values())
    assert {lead.lead_id: lead.reason for lead in found.excluded} == {
        lead_id: reason for reason, lead_id in haifa.excluded.items()
    }
    assert found.not_matching == len(haifa.not_matching)
    noa = next(lead for lead in found.recipients if lead.lead_id == haifa.reached["noa"])
    assert noa.name == "נועה כהן"
    assert {check.criterion for check in noa.checks} == {"city", "rooms", "budget"}
    assert all(check.passed for check in noa.checks)
    assert all(lead.reason_text for lead in found.excluded)
    # Nothing is stored by a preview.
    assert await _outbound(harness.db) == []
    assert await campaigns.list_campaigns(harness.db, actor=SYSTEM) == []


async def test_a_haifa_campaign_reaches_exactly_the_matching_leads_and_its_report_adds_up(
    harness: Harness,
    haifa: Cast,
    client: CloudApiClient,
    control: SimControl,
    receiver: WebhookReceiver,
) -> None:
    db = harness.db
    await control.faults(unreachable={"numbers": ["972521110003"], "mode": "async"})

    started = await campaigns.launch(db, actor=SYSTEM, property_id=haifa.property_id, waba_id=WABA)

    assert started.status == "running"
    queued = await _outbound(db)
    assert {message.lead_id for message in queued} == set(haifa.reached.values())
    by_lead = {message.lead_id: message for message in queued}
    assert by_lead[haifa.reached["dan"]].template_name == "property_details_en"
    assert by_lead[haifa.reached["noa"]].template_name == "property_details_he"
    noa_key = await db.vault.key("lead", haifa.reached["noa"])
    opened = open_message(by_lead[haifa.reached["noa"]], noa_key)
    assert opened.text is not None
    for value in ("נועה כהן", "חיפה", "4", "100", "₪1,950,000"):
        assert value in opened.text

    await _dispatcher(db, client).drain()
    accepted = (await control.outbox())["messages"]
    assert sorted(m["body"]["to"] for m in accepted) == [
        "+972521110001",
        "+972521110002",
        "+972521110003",
    ]
    # Two read (sent, delivered, read each) and one failed by Meta.
    await _bring_back_statuses(harness, receiver, statuses=7)

    done = await campaigns.report(db, actor=SYSTEM, campaign_id=started.id)
    totals = done.totals
    assert totals.recipients == 5
    assert (
        totals.excluded
        + totals.cancelled
        + totals.queued
        + totals.sent
        + totals.delivered
        + totals.read
        + totals.failed
        == totals.recipients
    )
    assert (totals.excluded, totals.read, totals.failed, totals.queued) == (2, 2, 1, 0)
    lines = {line.lead_id: line for line in done.lines}
    failed = lines[haifa.reached["rina"]]
    assert failed.outcome == "failed"
    assert failed.error_code is not None
    assert failed.reason is not None and str(failed.error_code) in failed.reason
    assert lines[haifa.excluded["opted_out"]].reason == "opted_out"
    assert lines[haifa.excluded["no_basis"]].reason == "no_basis"
    assert done.excluded_by_reason == {"opted_out": 1, "no_basis": 1}
    assert done.campaign.status == "done"  # nothing left in the outbox


async def test_matched_in_parts_and_queued_in_batches_each_matching_lead_is_queued_once(
    harness: Harness, haifa: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = harness.db
    # A name JSON must escape (quotes, a backslash): its parameters are made by putting it
    # into the stand-in's place in the parameters' JSON.
    quoted = await add_lead(
        db,
        'נועה "הקטנה" \\ לוי',
        "+972521110011",
        want_city="חיפה",
        want_rooms_min=Decimal(4),
        want_budget_max=2_000_000,
    )
    reached = {*haifa.reached.values(), quoted}
    # Parts of 2 leads matched (11 leads), batches of 4 queued (6 match): a batch gathers
    # several parts, and the last one is what is left, 2 leads.
    monkeypatch.setattr(campaigns, "SELECT_CHUNK", 2)
    monkeypatch.setattr(campaigns, "BATCH", 4)

    preview = await campaigns.preview(db, actor=SYSTEM, property_id=haifa.property_id, waba_id=WABA)
    started = await campaigns.launch(db, actor=SYSTEM, property_id=haifa.property_id, waba_id=WABA)

    assert {line.lead_id for line in preview.recipients} == reached
    assert preview.not_matching == len(haifa.not_matching)
    queued = await _outbound(db)
    assert sorted(message.lead_id for message in queued) == sorted(reached)
    report = await campaigns.report(db, actor=SYSTEM, campaign_id=started.id)
    assert report.totals.recipients == len(reached) + len(haifa.excluded)
    assert (report.totals.queued, report.totals.excluded) == (len(reached), len(haifa.excluded))
    message = next(message for message in queued if message.lead_id == quoted)
    opened = open_message(message, await db.vault.key("lead", quoted))
    assert opened.template_params is not None
    assert opened.template_params[0] == 'נועה "הקטנה" \\ לוי'
    assert opened.text is not None and 'נועה "הקטנה" \\ לוי' in opened.text


async def test_a_second_campaign_of_the_listing_skips_who_already_had_it(
    harness: Harness, haifa: Cast
) -> None:
    db = harness.db
    first = await campaigns.launch(db, actor=SYSTEM, property_id=haifa.property_id, waba_id=WABA)
    second = await campaigns.launch(db, actor=SYSTEM, property_id=haifa.property_id, waba_id=WABA)

    assert len(await _outbound(db)) == len(haifa.reached)
    again = await campaigns.report(db, actor=SYSTEM, campaign_id=second.id)
    assert again.excluded_by_reason["already_messaged"] == len(haifa.reached)
    assert first.id != second.id


async def test_pause_holds_and_resume_releases(
    harness: Harness, haifa: Cast, client: CloudApiClient, control: SimControl
) -> None:
    db = harness.db
    started = await campaigns.launch(db, actor=SYSTEM, property_id=haifa.property_id, waba_id=WABA)

    paused = await campaigns.pause(db, actor=SYSTEM, campaign_id=started.id)
    assert paused.status == "paused"
    await _dispatcher(db, client).drain()
    assert (await control.outbox())["messages"] == []  # held: nothing left
    with pytest.raises(campaigns.CampaignNotAllowed):
        await campaigns.pause(db, actor=SYSTEM, campaign_id=started.id)
    # Held messages block no other message to the lead: a utility send still goes.
    await queue.send_message(
        db,
        actor=SYSTEM,
        lead_id=haifa.reached["noa"],
        request=REMINDER,
        waba_id=WABA,
        zone=ZONE,
    )
    await _dispatcher(db, client).drain()
    names = [m["body"]["template"]["name"] for m in (await control.outbox())["messages"]]
    assert names == ["meeting_reminder_he"]
    assert (await campaigns.report(db, actor=SYSTEM, campaign_id=started.id)).totals.queued == 3
    # The lead's conversation says why the campaign's message waits, not "queued" alone.
    held = [
        m.held
        for m in await conversations.conversation(db, actor=SYSTEM, lead_id=haifa.reached["noa"])
        if m.template == "property_details_he"
    ]
    assert [(h.reason.kind, h.reason.name_he) for h in held if h] == [
        ("campaign_paused", "הקמפיין שלה מושהה")
    ]

    resumed = await campaigns.resume(db, actor=SYSTEM, campaign_id=started.id)
    assert resumed.status == "running"
    await _dispatcher(db, client).drain()
    assert len((await control.outbox())["messages"]) == 1 + len(haifa.reached)
    assert (await campaigns.get(db, actor=SYSTEM, campaign_id=started.id)).status == "done"


async def test_cancel_fails_the_unsent_messages_visibly(
    harness: Harness, haifa: Cast, client: CloudApiClient, control: SimControl
) -> None:
    db = harness.db
    started = await campaigns.launch(db, actor=SYSTEM, property_id=haifa.property_id, waba_id=WABA)

    cancelled = await campaigns.cancel(db, actor=SYSTEM, campaign_id=started.id)

    assert cancelled.status == "cancelled"
    await _dispatcher(db, client).drain()
    assert (await control.outbox())["messages"] == []
    lost = await _outbound(db)
    assert [m.status for m in lost] == [MessageStatus.FAILED] * len(haifa.reached)
    assert all(m.error_title == campaigns.CANCELLED_TITLE for m in lost)
    summary = await campaigns.report(db, actor=SYSTEM, campaign_id=started.id)
    assert (summary.totals.cancelled, summary.totals.excluded) == (len(haifa.reached), 2)
    assert summary.totals.recipients == len(haifa.reached) + 2
    with pytest.raises(campaigns.CampaignNotAllowed):
        await campaigns.resume(db, actor=SYSTEM, campaign_id=started.id)


async def test_only_admins_run_campaigns(harness: Harness, haifa: Cast) -> None:
    agent = Actor(user_id=None, role=Role.AGENT, email="dana@example.co.il")
    with pytest.raises(PermissionDenied):
        await campaigns.launch(harness.db, actor=agent, property_id=haifa.property_id, waba_id=WABA)
    with pytest.raises(NotFound):
        await campaigns.get(harness.db, actor=SYSTEM, campaign_id="nope")


async def test_a_person_s_campaigns_are_exported_and_erased_with_them(
    harness: Harness, haifa: Cast
) -> None:
    db = harness.db
    campaign = await campaigns.launch(db, actor=SYSTEM, property_id=haifa.property_id, waba_id=WABA)
    erased, kept = list(haifa.reached.values())[:2]
    exported = await privacy_export.gather(db, actor=SYSTEM, lead_id=erased)
    assert [(c["campaign_id"], c["outcome"]) for c in exported["campaigns"]] == [
        (campaign.id, "queued")
    ]

    await privacy.erase_lead(db, actor=SYSTEM, lead_id=erased)

    lines = (await campaigns.report(db, actor=SYSTEM, campaign_id=campaign.id)).lines
    assert erased not in {line.lead_id for line in lines}  # who they were is gone
    assert kept in {line.lead_id for line in lines}  # the others' lines stay


async def _image_header_template(db: Database) -> None:
    """The agency's approved ``property_details_he`` shows a photo of the listing."""
    async with db.session() as session:
        row = await session.scalar(
            select(MessageTemplate).where(MessageTemplate.name == "property_details_he")
        )
        assert row is not None
        row.components = [{"type": "HEADER", "format": "IMAGE"}, *row.components]
        await session.commit()


async def test_a_template_that_shows_a_photo_carries_the_listing_s_first_photo(
    harness: Harness, haifa: Cast, tmp_path: Path
) -> None:
    db = harness.db
    await _image_header_template(db)
    with pytest.raises(Conflict, match="the listing has none"):
        await campaigns.launch(db, actor=SYSTEM, property_id=haifa.property_id, waba_id=WABA)
    photos = [
        await property_files.add_file(
            db,
            LocalStore(tmp_path),
            actor=SYSTEM,
            property_id=haifa.property_id,
            role=PropertyFileRole.PHOTO,
            filename=name,
            data=PHOTO,
        )
        for name in ("front.jpg", "kitchen.jpg")
    ]

    await campaigns.launch(db, actor=SYSTEM, property_id=haifa.property_id, waba_id=WABA)

    queued = {message.template_name: message for message in await _outbound(db)}
    hebrew = queued["property_details_he"]
    key = await db.vault.key("lead", hebrew.lead_id)
    payload = json.loads(MESSAGES.cipher(key, hebrew.id).open("payload", hebrew.payload_enc) or "")
    assert payload["header_file"] == photos[0].id  # the first photo of the gallery
    english = queued["property_details_en"]  # its template has no header: no file
    assert english.payload_enc is None
