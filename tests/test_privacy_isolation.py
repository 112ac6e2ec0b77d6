"""Erasing one person leaves everyone else whole: untouched, readable and still findable.

Two leads get every kind of data the product stores about a person, each through the path
that writes it: the lead (name, phone, e-mail, wa_id, BSUID, username, profile name, notes)
and its name-search tokens and blind indexes; an inbound message and a marketing stop
(consent event) applied from webhook bodies stored in the same hour; an outbound message
Meta accepted, and its delivery statuses from webhook bodies of that hour too (status rows
and the dedupe keys of every item); a viewing with notes; a data-subject request; audit
entries; a place of the messaging-limit tier; a document asked for. The two share a
surname, so their name tokens overlap. Erasing the first must leave the second exactly as
it was, read through a fresh handle (no key cached): every row of every table with a
``lead_id`` (and the lead's own row) byte for byte, every sealed value still decrypting,
every index still finding it, its request still open, its webhook bodies readable even
after their hour is re-keyed. A guard fails when a table that holds data about a lead is
not covered here. The rows no path above writes (automation, scores, notifications,
campaigns, views, phone tokens) are seeded directly for both leads by the second test;
the files a lead sent, by tests/media/test_media_privacy.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import audit, document_checklist, privacy
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.conversations import open_message
from ovenai.db import Database
from ovenai.errors import CryptoError, Gone
from ovenai.ingest.parse.dedupe_keys import message_key, preference_prefix, status_key
from ovenai.ingest.processor import Processor
from ovenai.lead_fields import LeadCreate, LeadFilter
from ovenai.leads import create_lead, find_by_identity, get_lead, list_leads, open_leads
from ovenai.meetings import MeetingCreate, create_meeting, open_meeting
from ovenai.models import (
    AppliedItem,
    AutomationFiring,
    AutomationRule,
    Base,
    Campaign,
    CampaignRecipient,
    ConsentEvent,
    Lead,
    LeadNameToken,
    LeadPhoneToken,
    LeadView,
    Meeting,
    Message,
    Notification,
    PrivacyRequest,
    ReachedUser,
    RequestedDocument,
    Role,
    ScoreChange,
    SequenceEnrolment,
    StatusEvent,
    User,
    WebhookEvent,
    WebhookEventLead,
)
from ovenai.outbox import claims, outcomes, queue
from ovenai.outbox.messaging_tier import reach_allowance
from ovenai.sealing import CONSENT_EVENTS, SEALED_TABLES, WEBHOOK_EVENTS

pytestmark = pytest.mark.anyio

ADMIN = Actor(user_id=None, role=Role.ADMIN, email="owner@agency.co.il")
WABA, PHONE_NUMBER_ID = "310000000000001", "420000000000002"
# Every table that holds something about one lead, and so is read by `snapshot` below.
COVERED = {
    "leads",
    "lead_name_tokens",
    "messages",
    "meetings",
    "consent_events",
    "privacy_requests",
    "webhook_events",
    "webhook_event_leads",
    "reached_users",
    "audit_log",
    "automation_firings",  # deleted on erasure (no personal data in them)
    "automation_enrolments",  # deleted on erasure (no personal data in them)
    "notifications",  # deleted on erasure (the rule's words, a link to the lead)
    "score_changes",  # deleted on erasure (no personal data in them)
    "lead_phone_tokens",  # deleted on erasure (blind-indexed fragments of the phone)
    "lead_views",  # deleted on erasure
    "media_files",  # marked erased, their stored files deleted (tests/media/test_media_privacy.py)
    "requested_documents",  # deleted on erasure (which documents they were asked for)
    "campaign_recipients",  # deleted on erasure (ids and codes: which campaigns, and why)
    "response_turns",  # kept, like the blanked messages: ids and times (the key figures)
    "reply_marks",  # kept, like the blanked messages: ids and times (the key figures)
    "response_turns_stale",  # kept: a lead id, until the worker counts its turns again
}


@dataclass(frozen=True)
class Person:
    name: str
    phone: str
    email: str
    bsuid: str
    username: str
    profile: str
    notes: str
    said: str
    told: str
    viewing: str

    @property
    def wa_id(self) -> str:
        return self.phone.removeprefix("+")

    @property
    def sent_wamid(self) -> str:
        """The id Meta gave the message sent to the person."""
        return f"wamid.out.{self.bsuid}"


FIRST = Person(
    name="מרים ברק",
    phone="+972526667777",
    email="miriam.barak@example.co.il",
    bsuid="IL.5550007770001112223",
    username="miriam.b",
    profile="מרים",
    notes="מחפשת 4 חדרים, גמישה במחיר",
    said="שלום, אני מחפשת דירה בחיפה 🏡",
    told="נשמח להראות לך דירה מחר",
    viewing="להביא את תוכנית הקומה",
)
SECOND = Person(
    name="דנה ברק",  # the same surname: the name tokens overlap
    phone="+972528889999",
    email="dana.barak@example.co.il",
    bsuid="IL.5550008880001112223",
    username="dana.barak",
    profile="Dana B",
    notes="משכנתא מאושרת",
    said="Hi, is the flat on Herzl still free? 🙂",
    told="כן, אפשר לתאם ביקור",
    viewing="חניה ברחוב",
)


def _bucket() -> str:
    """An hour ahead of the clock: the live test server never seals under it, so re-keying
    it disturbs nothing else (as in tests/test_privacy.py)."""
    return (utcnow() + timedelta(hours=3)).strftime("%Y%m%d%H")


def _body(field: str, value: dict[str, Any]) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "97233760000", "phone_number_id": PHONE_NUMBER_ID},
        **value,
    }
    change = {"value": value, "field": field}
    return json.dumps({"object": "whatsapp_business_account", "entry": [
        {"id": WABA, "time": int(time.time()), "changes": [change]}
    ]}).encode()  # fmt: skip


def _bodies(person: Person) -> list[bytes]:
    """What WhatsApp sends about the person: a text message, then a marketing stop."""
    contact = {
        "profile": {"name": person.profile, "username": person.username},
        "wa_id": person.wa_id,
        "user_id": person.bsuid,
    }
    message = {
        "from": person.wa_id,
        "id": f"wamid.{person.bsuid}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": person.said},
    }
    stop = {
        "wa_id": person.wa_id,
        "user_id": person.bsuid,
        "detail": "User requested to stop marketing messages",
        "category": "marketing_messages",
        "value": "stop",
        "timestamp": int(time.time()),
    }
    return [
        _body("messages", {"contacts": [contact], "messages": [message]}),
        _body("user_preferences", {"contacts": [contact], "user_preferences": [stop]}),
    ]


def _statuses(person: Person) -> bytes:
    """Meta's delivery statuses of the message sent to the person."""
    now = int(time.time())
    statuses = [
        {"id": person.sent_wamid, "status": step, "timestamp": str(now + n),
         "recipient_id": person.wa_id}
        for n, step in enumerate(("sent", "delivered", "read"))
    ]  # fmt: skip
    return _body("messages", {"statuses": statuses})


async def _deliver(db: Database, bucket: str, bodies: list[bytes]) -> None:
    """Store bodies as the webhook route does, sealed under `bucket`'s key, and apply them
    with the processor (the session's live server may apply some first: wait for all)."""
    key = await db.vault.key(WEBHOOK_EVENTS.key_scope, bucket, create=True)
    ids = []
    async with db.session() as session:
        for raw in bodies:
            event_id = new_id()
            sealed = WEBHOOK_EVENTS.cipher(key, event_id).seal_bytes("body", raw)
            session.add(
                WebhookEvent(id=event_id, key_bucket=bucket, body_enc=sealed, body_size=len(raw))
            )
            ids.append(event_id)
        await session.commit()
    processor = Processor(db)
    try:
        deadline = time.monotonic() + 20
        while True:
            await processor.drain()
            async with db.session() as session:
                query = select(WebhookEvent.status).where(WebhookEvent.id.in_(ids))
                statuses = list(await session.scalars(query))
            if all(status == "processed" for status in statuses):
                return
            assert "failed" not in statuses and time.monotonic() < deadline, statuses
            await asyncio.sleep(0.05)
    finally:
        await processor.stop()


async def seed(db: Database, person: Person, bucket: str) -> str:
    """One lead with every kind of data; its id."""
    data = LeadCreate(name=person.name, phone=person.phone, email=person.email, notes=person.notes)
    lead = await create_lead(db, actor=ADMIN, data=data)
    await _deliver(db, bucket, _bodies(person))
    sent = await queue.send_message(
        db,
        actor=ADMIN,
        lead_id=lead.id,
        request=queue.OutboundRequest(text=person.told),
        waba_id=WABA,
        zone=UTC,
    )
    # The worker's send: the message claimed, Meta's id for it recorded, then its statuses.
    async with db.session() as session:
        claimed = await claims.claim(session, worker="w", limit=5, ttl_s=30.0, now=utcnow())
        await session.commit()
    assert [row.id for row in claimed] == [sent.id]
    accepted = outcomes.Outcome(
        sent.id, outcomes.Kind.SENT, utcnow(), wa_message_id=person.sent_wamid
    )
    await outcomes.write(db, "w", [accepted])
    await _deliver(db, bucket, [_statuses(person)])
    starts = datetime(2049, 1, 10, 9, 30, tzinfo=UTC)  # ahead: past viewings are refused
    meeting = MeetingCreate(lead_id=lead.id, starts_at=starts, notes=person.viewing)
    await create_meeting(db, actor=ADMIN, data=meeting, zone=UTC)
    await privacy.record_request(db, actor=ADMIN, kind="access", lead_id=lead.id)
    await get_lead(db, actor=ADMIN, lead_id=lead.id)  # audited as a view
    async with db.session() as session:
        await reach_allowance(
            session, portfolio=WABA, phone_number_id=PHONE_NUMBER_ID, lead_ids=[lead.id], limit=10
        )
        await document_checklist.record_asked(
            session, lead_id=lead.id, names=["תעודת זהות"], language="he", message_id=None
        )
        await session.commit()
    return lead.id


def _plain(value: Any) -> Any:
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


async def snapshot(db: Database, lead_id: str, person: Person) -> dict[str, Any]:
    """Everything stored about a lead, decrypted, and what every index finds for it."""
    fresh = Database(db.url, db.vault.ring, db.vault.url)  # another process: nothing cached
    await fresh.start()
    try:
        return await _read(fresh, lead_id, person)
    finally:
        await fresh.dispose()


async def _stored_rows(session: AsyncSession, lead_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """The lead's row and every row of every table with a ``lead_id`` about it, as stored
    (ciphertexts and all): a table a later issue adds is compared without being named."""
    leads = Lead.__table__
    lead = (await session.execute(select(leads).where(leads.c.id == lead_id))).one()
    found = {"leads": [tuple(lead)]}
    for table in Base.metadata.sorted_tables:
        if "lead_id" in table.c:
            rows = await session.execute(select(table).where(table.c.lead_id == lead_id))
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found


async def _about_its_whatsapp_ids(
    session: AsyncSession, wamids: list[str], person: Person
) -> dict[str, list[tuple[Any, ...]]]:
    """What names the lead's WhatsApp ids outside its rows: the statuses of its messages and
    the dedupe keys of its messages, statuses and marketing preferences."""
    statuses = await session.execute(
        select(StatusEvent).where(StatusEvent.wa_message_id.in_(wamids))
    )
    keyed = [AppliedItem.dedupe_key == message_key(wamid) for wamid in wamids]
    keyed += [AppliedItem.dedupe_key.startswith(status_key(wamid, "")) for wamid in wamids]
    keyed += [
        AppliedItem.dedupe_key.startswith(preference_prefix(user))
        for user in (person.wa_id, person.bsuid)
    ]
    applied = await session.scalars(select(AppliedItem).where(or_(*keyed)))
    return {
        "statuses": sorted((s.wa_message_id, s.status, s.at, s.applied) for (s,) in statuses.all()),
        "applied": sorted((a.dedupe_key, a.event_id, a.applied_at) for a in applied),
    }


async def _read(db: Database, lead_id: str, person: Person) -> dict[str, Any]:
    vault = db.vault
    key = await vault.key("lead", lead_id)
    async with db.session() as session:
        stored = await _stored_rows(session, lead_id)
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        (record,) = await open_leads(vault, [lead])
        tokens = await session.scalars(
            select(LeadNameToken.token).where(LeadNameToken.lead_id == lead_id)
        )
        messages = await session.scalars(
            select(Message).where(Message.lead_id == lead_id).order_by(Message.id)
        )
        meetings = await session.scalars(
            select(Meeting).where(Meeting.lead_id == lead_id).order_by(Meeting.id)
        )
        consent = await session.scalars(
            select(ConsentEvent).where(ConsentEvent.lead_id == lead_id).order_by(ConsentEvent.id)
        )
        requests = await session.scalars(
            select(PrivacyRequest).where(PrivacyRequest.lead_id == lead_id)
        )
        linked = select(WebhookEventLead.event_id).where(WebhookEventLead.lead_id == lead_id)
        bodies = list(
            await session.scalars(select(WebhookEvent).where(WebhookEvent.id.in_(linked)))
        )
        reached = await session.scalars(select(ReachedUser).where(ReachedUser.lead_id == lead_id))
        documents = await session.scalars(
            select(RequestedDocument).where(RequestedDocument.lead_id == lead_id)
        )
        found: dict[str, object] = {}
        for kind, value in (
            ("phone", person.phone),
            ("wa_id", person.wa_id),
            ("bsuid", person.bsuid),
        ):
            hit = await find_by_identity(session, vault, **{kind: value})
            found[kind] = None if hit is None else hit.id
        found["username"] = (await privacy.find_subject(session, db, username=person.username)).id
        found["email"] = (await privacy.find_subject(session, db, email=person.email)).id
        audited = await audit.about(session, lead_id)
        opened = [_plain(open_message(m, key)) for m in messages]
        wamids = [m["wa_message_id"] for m in opened if m["wa_message_id"]]
        state = {
            "stored": stored,
            **await _about_its_whatsapp_ids(session, wamids, person),
            "lead": _plain(record),
            "name_tokens": sorted(tokens),
            "messages": opened,
            "meetings": [_plain(open_meeting(m, key)) for m in meetings],
            "consent": [
                (c.kind, c.channel, c.at, CONSENT_EVENTS.open_from(c, key, "evidence"))
                for c in consent
            ],
            "requests": sorted((r.kind, r.requested_at, r.completed_at) for r in requests),
            "bodies": {
                b.id: WEBHOOK_EVENTS.cipher(
                    await vault.key("webhook", b.key_bucket), b.id
                ).open_bytes("body", b.body_enc or b"")
                for b in bodies
            },
            "reached": sorted((r.portfolio, r.phone_number_id, r.reached_at) for r in reached),
            "documents": sorted((d.name, d.asked_at) for d in documents),
            "audit": [(a.id, a.action, a.actor, a.at) for a in audited],
            "found_by": found,
        }
    for word in person.name.split():  # every word of the name finds the lead
        page = await list_leads(db, actor=ADMIN, filters=LeadFilter(q=word))
        state["found_by"][f"name:{word}"] = lead_id in {lead.id for lead in page.items}
    page = await list_leads(db, actor=ADMIN, filters=LeadFilter(phone=person.phone))
    state["found_by"]["phone filter"] = [lead.id for lead in page.items]
    return state


def test_every_table_about_a_lead_is_covered() -> None:
    about_a_lead = {table.name for table in Base.metadata.sorted_tables if "lead_id" in table.c}
    sealed = {table.model.__tablename__ for table in SEALED_TABLES}
    assert about_a_lead | sealed | {"audit_log"} <= COVERED


async def test_erasing_one_lead_leaves_another_untouched_and_readable(db: Database) -> None:
    bucket = _bucket()
    first = await seed(db, FIRST, bucket)
    second = await seed(db, SECOND, bucket)
    before = await snapshot(db, second, SECOND)
    # The seeding reached every kind of data (a snapshot of nothing would compare equal).
    assert before["lead"]["username"] == SECOND.username
    assert before["lead"]["profile_name"] == SECOND.profile
    assert before["lead"]["bsuid"] == SECOND.bsuid and before["lead"]["notes"] == SECOND.notes
    assert before["lead"]["email"] == SECOND.email
    assert [m["text"] for m in before["messages"]] == [SECOND.said, SECOND.told]
    assert [(m["wa_message_id"], m["status"]) for m in before["messages"]] == [
        (f"wamid.{SECOND.bsuid}", "received"),
        (SECOND.sent_wamid, "read"),
    ]
    assert [(s[0], s[1]) for s in before["statuses"]] == [
        (SECOND.sent_wamid, step) for step in ("delivered", "read", "sent")
    ]
    # Its message and its marketing stop (statuses are kept once by their own rows).
    assert [key.split(":")[0] for key, *_ in before["applied"]] == ["message", "user_preference"]
    assert {name for name, rows in before["stored"].items() if rows} >= {
        "leads", "lead_name_tokens", "messages", "meetings", "consent_events",
        "privacy_requests", "webhook_event_leads", "reached_users", "requested_documents",
    }  # fmt: skip
    assert [m["notes"] for m in before["meetings"]] == [SECOND.viewing]
    assert [c[0] for c in before["consent"]] == ["opt_out"]  # WhatsApp's stop, in the ledger
    assert [r[0] for r in before["requests"]] == ["access"] and before["requests"][0][2] is None
    assert len(before["bodies"]) == 3 and len(before["reached"]) == 1
    assert [name for name, _at in before["documents"]] == ["תעודת זהות"]
    assert {"create", "view", "request_access"} <= {a[1] for a in before["audit"]}
    assert before["found_by"] == {
        "phone": second,
        "wa_id": second,
        "bsuid": second,
        "username": second,
        "email": second,
        "name:דנה": True,
        "name:ברק": True,
        "phone filter": [second],
    }
    async with db.session() as session:  # both hold bodies of the same hour
        buckets = set(await session.scalars(select(WebhookEvent.key_bucket)))
    assert buckets == {bucket}
    shared = await list_leads(db, actor=ADMIN, filters=LeadFilter(q="ברק"))
    assert {lead.id for lead in shared.items} == {first, second}

    first_wamids = [f"wamid.{FIRST.bsuid}", FIRST.sent_wamid]
    async with db.session() as session:
        of_first = await _about_its_whatsapp_ids(session, first_wamids, FIRST)
    assert (len(of_first["statuses"]), len(of_first["applied"])) == (3, 2)

    report = await privacy.erase(db, actor=ADMIN, lead_id=first)
    assert (report.lead_id, report.messages, report.meetings, report.consent_events) == (
        first,
        2,
        1,
        1,
    )
    assert report.webhook_bodies == 3

    assert await snapshot(db, second, SECOND) == before
    async with db.session() as session:
        asked_of_first = await session.scalars(
            select(RequestedDocument.id).where(RequestedDocument.lead_id == first)
        )
        assert list(asked_of_first) == []
        assert await _about_its_whatsapp_ids(session, first_wamids, FIRST) == {
            "statuses": [],
            "applied": [],
        }
    shared = await list_leads(db, actor=ADMIN, filters=LeadFilter(q="ברק"))
    assert [lead.id for lead in shared.items] == [second]  # the first's tokens went, only

    # Once the hour is over it is re-keyed: the second's bodies are re-sealed, still readable.
    hour = datetime.strptime(bucket, "%Y%m%d%H").replace(tzinfo=UTC)
    later = hour + timedelta(hours=1, minutes=10)
    assert await privacy.rekey_pending_hours(db, now=later) == 1
    after_rekey = await snapshot(db, second, SECOND)
    assert after_rekey == before
    async with db.session() as session:
        buckets = set(await session.scalars(select(WebhookEvent.key_bucket)))
    assert len(buckets) == 1 and buckets != {bucket}
    fresh = Database(db.url, db.vault.ring, db.vault.url)
    await fresh.start()
    try:
        with pytest.raises(CryptoError):  # a backup of the hour's bodies: the old key is gone
            await fresh.vault.key("webhook", bucket)
    finally:
        await fresh.dispose()

    # And the first is gone for good (what the rest of the privacy tests examine in depth).
    with pytest.raises(Gone):
        await get_lead(db, actor=ADMIN, lead_id=first)
    async with db.session() as session:
        assert await find_by_identity(session, db.vault, bsuid=FIRST.bsuid) is None
        assert await find_by_identity(session, db.vault, phone=FIRST.phone) is None


# Tables whose rows about a lead go with its erasure (nothing personal is kept in them).
DELETED_ON_ERASURE = (
    AutomationFiring, ScoreChange, SequenceEnrolment, Notification, CampaignRecipient,
    LeadPhoneToken, LeadView, LeadNameToken, RequestedDocument,
)  # fmt: skip


async def _rows_about(db: Database, lead_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of each table deleted on erasure about the lead, every column."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with db.session() as session:
        for model in DELETED_ON_ERASURE:
            table = model.__table__
            rows = await session.execute(select(table).where(table.c.lead_id == lead_id))
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found


async def _about(db: Database, lead_id: str, user_id: str, rule_id: str, campaign_id: str) -> None:
    """One row of each table deleted on erasure, about the lead."""
    async with db.session() as session:
        session.add_all([
            AutomationFiring(rule_id=rule_id, lead_id=lead_id, event="e", outcome="ok", detail=""),
            ScoreChange(lead_id=lead_id, delta=1, score=1, reason="r", source="s"),
            SequenceEnrolment(rule_id=rule_id, lead_id=lead_id, event="e", stage="new"),
            Notification(user_id=user_id, lead_id=lead_id, text="t"),
            CampaignRecipient(campaign_id=campaign_id, lead_id=lead_id, outcome="sent"),
            LeadView(user_id=user_id, lead_id=lead_id, seen_at=utcnow()),
            LeadPhoneToken(lead_id=lead_id, token=lead_id[-12:], phone_index="i"),
        ])  # fmt: skip
        await document_checklist.record_asked(
            session, lead_id=lead_id, names=["תלוש"], language="he", message_id=None
        )
        await session.commit()


async def test_erasure_deletes_the_lead_s_rows_of_each_table_and_no_one_else_s(
    db: Database,
) -> None:
    first = await create_lead(db, actor=ADMIN, data=LeadCreate(name="רות לוי", phone=FIRST.phone))
    second = await create_lead(db, actor=ADMIN, data=LeadCreate(name="נוי לוי", phone=SECOND.phone))
    async with db.session() as session:
        user = User(email="agent@agency.co.il", role=Role.AGENT)
        rule = AutomationRule(key="k", position=1, definition="{}")
        campaign = Campaign(template="t", criteria={}, created_by="x")
        session.add_all([user, rule, campaign])
        await session.commit()
        ids = (user.id, rule.id, campaign.id)
    for lead in (first, second):
        await _about(db, lead.id, *ids)
    before = await _rows_about(db, second.id)
    assert all(before.values()), before  # every table holds something about each

    await privacy.erase(db, actor=ADMIN, lead_id=first.id)

    assert not any((await _rows_about(db, first.id)).values())
    assert await _rows_about(db, second.id) == before  # the same rows, every column unchanged
