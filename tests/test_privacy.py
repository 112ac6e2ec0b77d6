"""Data-subject rights: export everything, erase everything (backups included), deadlines."""

from __future__ import annotations

import asyncio
import io
import json
import re
import sqlite3
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from conftest import TEST_APP_SECRET
from ovenai import crypto, dialects, document_checklist, erasure_journal, privacy, privacy_export
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database, open_database
from ovenai.errors import CryptoError, Gone, InvalidInput, NotFound, PermissionDenied
from ovenai.ingest.apply import delivery_statuses
from ovenai.ingest.parse.dedupe_keys import message_key, status_key
from ovenai.ingest.processor import Processor
from ovenai.ingest.receive.event_store import EventStore
from ovenai.ingest.receive.signature import sign
from ovenai.lead_fields import LeadCreate
from ovenai.leads import create_lead, get_lead, open_leads
from ovenai.meetings import MeetingCreate, create_meeting
from ovenai.models import (
    AppliedItem,
    AuditEntry,
    Campaign,
    CampaignRecipient,
    ConsentEvent,
    Lead,
    Message,
    PrivacyRequest,
    RequestedDocument,
    Role,
    StatusEvent,
    WebhookEvent,
    WebhookEventLead,
)
from ovenai.sealing import CONSENT_EVENTS, LEADS, MESSAGES, username_index
from ovenai.settings import Settings
from support.storage import stored_bytes

pytestmark = pytest.mark.anyio


def open_database_like(db: Database) -> Database:
    """A second process's handle on the same databases (nothing cached)."""
    return Database(db.url, db.vault.ring, db.vault.url)


ADMIN = Actor(user_id=None, role=Role.ADMIN, email="owner@agency.co.il")
NAME = "מרים ברק"
PHONE = "+972526667777"
TEXT = "שלום, אני מחפשת דירת 4 חדרים בחיפה 🏡"


async def seed_person(db: Database) -> str:
    """A lead with a conversation, a consent event and a stored webhook body."""
    lead = await create_lead(db, actor=ADMIN, data=LeadCreate(name=NAME, phone=PHONE))
    key = await db.vault.key("lead", lead.id)
    async with db.session() as session:
        message_id = new_id()
        cipher = MESSAGES.cipher(key, message_id)
        session.add(
            Message(
                id=message_id,
                lead_id=lead.id,
                direction="inbound",
                type="text",
                text_enc=cipher.seal("text", TEXT),
                wa_message_id=f"wamid.{message_id}",
                status="received",
            )
        )
        consent_id = new_id()
        evidence = CONSENT_EVENTS.cipher(key, consent_id).seal("evidence", "טופס באתר")
        session.add(
            ConsentEvent(
                id=consent_id,
                lead_id=lead.id,
                kind="opt_in",
                channel="web_form",
                actor_label="web",
                evidence_enc=evidence,
            )
        )
        await _store_webhook(session, db, lead.id)
        await session.commit()
    return lead.id


def _bucket() -> str:
    """A webhook hour still open (three hours ahead): the tests never touch the hour that
    the live test server is really sealing bodies under."""
    return (utcnow() + timedelta(hours=3)).strftime("%Y%m%d%H")


async def _store_webhook(session, db: Database, lead_id: str | None) -> None:  # type: ignore[no-untyped-def]
    bucket = _bucket()
    key = await db.vault.key("webhook", bucket, create=True)
    for concerned in (lead_id, None):
        event_id = new_id()
        body = json.dumps({"from": PHONE[1:], "text": TEXT}).encode()
        sealed = crypto.encrypt(key, body, aad=crypto.aad("webhook_events", event_id, "body"))
        session.add(
            WebhookEvent(id=event_id, key_bucket=bucket, body_enc=sealed, body_size=len(body))
        )
        await session.flush()
        if concerned:
            session.add(WebhookEventLead(event_id=event_id, lead_id=concerned))


async def test_export_as_json_holds_everything_decrypted(db: Database) -> None:
    lead_id = await seed_person(db)
    document = json.loads(
        await privacy_export.export(db, actor=ADMIN, phone="052-666-7777", fmt="json")
    )
    assert document["subject"]["id"] == lead_id
    assert document["subject"]["name"] == NAME and document["subject"]["phone"] == PHONE
    assert [m["text"] for m in document["messages"]] == [TEXT]
    assert document["consent_history"][0]["evidence"] == "טופס באתר"
    assert {e["action"] for e in document["audit_entries"]} >= {"create", "export"}
    assert document["privacy_requests"][0]["kind"] == "access"


async def test_export_as_csv_is_a_zip_of_tables_excel_reads_in_hebrew(db: Database) -> None:
    await seed_person(db)
    data = await privacy_export.export(db, actor=ADMIN, phone=PHONE, fmt="csv")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        lead_csv = archive.read("lead.csv")
        messages_csv = archive.read("messages.csv")
    assert {"lead.csv", "messages.csv", "meetings.csv", "consent_history.csv"} <= names
    assert lead_csv.startswith("\ufeff".encode())
    assert NAME in lead_csv.decode("utf-8-sig")
    assert TEXT in messages_csv.decode("utf-8-sig")


async def test_only_admins_handle_requests(db: Database) -> None:
    await seed_person(db)
    agent = Actor(user_id=None, role=Role.AGENT, email="agent@agency.co.il")
    with pytest.raises(PermissionDenied):
        await privacy_export.export(db, actor=agent, phone=PHONE, fmt="json")
    with pytest.raises(PermissionDenied):
        await privacy.erase(db, actor=agent, phone=PHONE)


async def _raw_rows(db: Database, lead_id: str) -> dict[str, bytes]:
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
        message = await session.scalar(select(Message).where(Message.lead_id == lead_id))
    assert lead is not None and message is not None
    assert lead.name_enc is not None and message.text_enc is not None
    return {"name": lead.name_enc, "text": message.text_enc, "message_id": message.id.encode()}


async def _sealed_values(db: Database, lead_id: str) -> dict[str, bytes]:
    """Every ciphertext stored about the lead: its columns, messages, consent, bodies."""
    found: dict[str, bytes] = {}
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        for column, stored in LEADS.stored.items():
            if getattr(lead, stored) is not None:
                found[f"lead.{column}"] = getattr(lead, stored)
        for message in await session.scalars(select(Message).where(Message.lead_id == lead_id)):
            for column, stored in MESSAGES.stored.items():
                if getattr(message, stored) is not None:
                    found[f"message.{column}"] = getattr(message, stored)
        query = select(ConsentEvent).where(ConsentEvent.lead_id == lead_id)
        for event in await session.scalars(query):
            if event.evidence_enc is not None:
                found["consent.evidence"] = event.evidence_enc
        linked = select(WebhookEventLead.event_id).where(WebhookEventLead.lead_id == lead_id)
        for body in await session.scalars(select(WebhookEvent).where(WebhookEvent.id.in_(linked))):
            if body.body_enc is not None:
                found["webhook.body"] = body.body_enc
    return found


def _live_rows(database_url: str, tmp_path: Path) -> str:
    """Every live row of the database as SQL text, blobs as hex (lower case): what a dump
    or a replica holds. Deleted data a file may still carry is the key store's concern
    (crypto-shredding, tests/test_erasure_on_disk.py)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        dump = "import sqlite3, sys; print('\\n'.join(sqlite3.connect(sys.argv[1]).iterdump()))"
        command = [sys.executable, "-c", dump, str(url.database)]
        return subprocess.run(command, capture_output=True, check=True, text=True).stdout.lower()
    return stored_bytes(database_url, tmp_path).decode().lower()


async def test_erase_leaves_no_trace_and_statistics_keep_counting(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    lead_id = await seed_person(db)
    sealed = await _sealed_values(db, lead_id)
    assert set(sealed) >= {"lead.name", "lead.phone", "message.text", "consent.evidence"}
    assert "webhook.body" in sealed
    before = _live_rows(settings.database_url, tmp_path)
    assert [name for name, blob in sealed.items() if blob.hex() not in before] == []
    report = await privacy.erase(db, actor=ADMIN, phone="0526667777")
    assert (report.messages, report.consent_events, report.webhook_bodies) == (1, 1, 1)
    assert report.rekeyed_hours == 0  # this hour is still being written: re-keyed when over
    assert db.erasure_journal is not None  # the restore of an older backup erases it again
    assert erasure_journal.read(db.erasure_journal)[-1] == lead_id
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None and lead.erased_at is not None
        assert lead.name_enc is None and lead.phone_index is None
        assert await session.scalar(select(func.count()).select_from(Message)) == 1
        bodies = list(await session.scalars(select(WebhookEvent)))
    assert [e.body_enc is None for e in bodies].count(True) == 1
    # No live row holds any of the lead's ciphertexts any more (each was there before).
    after = _live_rows(settings.database_url, tmp_path)
    assert [name for name, blob in sealed.items() if blob.hex() in after] == []
    stored = stored_bytes(settings.database_url, tmp_path)
    for trace in (NAME, PHONE, PHONE[1:], "0526667777", TEXT):  # nor any plaintext, anywhere
        assert trace.encode() not in stored
    with pytest.raises(NotFound):
        await privacy.erase(db, actor=ADMIN, phone=PHONE)


async def test_a_copy_taken_before_the_erase_can_no_longer_decrypt_the_lead(
    db: Database, settings: Settings
) -> None:
    lead_id = await seed_person(db)
    backup = await _raw_rows(db, lead_id)  # exactly what a backup of the database holds
    await privacy.erase(db, actor=ADMIN, phone=PHONE)
    fresh = open_database(settings)  # a new process: nothing cached
    await fresh.start()
    try:
        with pytest.raises(CryptoError):
            key = await fresh.vault.key("lead", lead_id)
            LEADS.cipher(key, lead_id).open("name", backup["name"])
    finally:
        await fresh.dispose()


async def _readable(db: Database, event: WebhookEvent) -> bytes:
    key = await db.vault.key("webhook", event.key_bucket)
    assert event.body_enc is not None
    aad = crypto.aad("webhook_events", event.id, "body")
    return crypto.decrypt(key, event.body_enc, aad=aad)


async def test_the_hour_is_rekeyed_once_over_and_its_other_bodies_stay_readable(
    db: Database,
) -> None:
    await seed_person(db)
    await privacy.erase(db, actor=ADMIN, phone=PHONE)
    async with db.session() as session:
        kept = await session.scalar(select(WebhookEvent).where(WebhookEvent.body_enc.is_not(None)))
    assert kept is not None
    old_bucket = kept.key_bucket
    later = utcnow() + timedelta(hours=4, minutes=10)  # that hour is over by then
    assert await privacy.rekey_pending_hours(db) == 0
    assert await privacy.rekey_pending_hours(db, now=later) == 1
    async with db.session() as session:
        rekeyed = await session.get(WebhookEvent, kept.id)
    assert rekeyed is not None and rekeyed.key_bucket.startswith(old_bucket + ".")
    assert json.loads(await _readable(db, rekeyed))["text"] == TEXT
    fresh = open_database_like(db)
    await fresh.start()
    try:
        with pytest.raises(CryptoError):
            await fresh.vault.key("webhook", old_bucket)  # backups of the hour: unreadable
    finally:
        await fresh.dispose()
    assert await privacy.rekey_pending_hours(db) == 0


async def test_bodies_stored_after_an_erasure_in_the_same_hour_stay_readable(
    db: Database,
) -> None:
    await seed_person(db)
    other = open_database_like(db)  # another server process, the hour's key in its cache
    await other.start()
    await other.vault.key("webhook", _bucket(), create=True)
    await privacy.erase(db, actor=ADMIN, phone=PHONE)
    try:
        async with other.session() as session:
            await _store_webhook(session, other, None)
            await session.commit()
    finally:
        await other.dispose()
    async with db.session() as session:
        bodies = list(
            await session.scalars(select(WebhookEvent).where(WebhookEvent.body_enc.is_not(None)))
        )
    assert len(bodies) == 3
    for event in bodies:
        assert json.loads(await _readable(db, event))["text"] == TEXT


async def test_requests_carry_a_30_day_deadline_and_show_overdue(db: Database) -> None:
    await seed_person(db)
    made = await privacy.record_request(db, actor=ADMIN, kind="erasure", phone=PHONE)
    assert made.due_at - made.requested_at == timedelta(days=30)
    assert not made.overdue
    with time_machine.travel(utcnow() + timedelta(days=31), tick=False):
        [listed] = await privacy.list_requests(db, actor=ADMIN)
    assert listed.overdue
    await privacy.erase(db, actor=ADMIN, phone=PHONE)
    [done] = await privacy.list_requests(db, actor=ADMIN)
    assert done.id == made.id and done.completed_at is not None and not done.overdue


async def test_tampered_ciphertext_fails_loudly(db: Database) -> None:
    lead_id = await seed_person(db)
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None and lead.name_enc is not None
        broken = bytearray(lead.name_enc)
        broken[-1] ^= 0x01
        lead.name_enc = bytes(broken)
        await session.commit()
        with pytest.raises(CryptoError):
            await open_leads(db.vault, [lead])


# A person the product knows without a phone: recorded webhooks from WhatsApp users.
FIXTURES = Path(__file__).parent / "ingest" / "fixtures"
BSUID, USERNAME = "IL.5550002223334445556", "maya.tlv"  # username_user_without_wa_id.json
WA_ID = "99912345678"  # country code 999 is no country's: a wa_id that is not a phone


def recorded(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def wa_id_only_body() -> bytes:
    """A recorded text message whose sender has a wa_id only: no BSUID, no phone behind it."""
    body = json.loads(recorded("text_hebrew_emoji.json"))
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": NAME}, "wa_id": WA_ID}]
    value["messages"][0]["from"] = WA_ID
    return json.dumps(body).encode()


async def deliver(db: Database, raw: bytes) -> str:
    """Store a body as the webhook route does and apply it as the processor does; the id of
    the newest lead."""
    store, processor = EventStore(db), Processor(db)
    try:
        event_id = await store.store(raw, {"x-hub-signature-256": sign(raw, TEST_APP_SECRET)})
        await processor.drain()
        # The session's live server has a processor too and may have claimed the body.
        while await _status(db, event_id) == "pending":
            await asyncio.sleep(0.05)
            await processor.drain()
    finally:
        await processor.stop()
        store.close()
    async with db.session() as session:
        lead_id = await session.scalar(select(Lead.id).order_by(Lead.id.desc()).limit(1))
    assert lead_id is not None
    return lead_id


async def _status(db: Database, event_id: str) -> str | None:
    async with db.session() as session:
        return await session.scalar(select(WebhookEvent.status).where(WebhookEvent.id == event_id))


SENDERS = {
    # kind: (the webhook that made the lead, the identity as an admin types it)
    "bsuid": ("username_user_without_wa_id.json", BSUID),
    "username": ("username_user_without_wa_id.json", "@Maya.TLV"),
    "wa_id": ("wa_id only", f"+{WA_ID}"),
    "lead_id": ("username_user_without_wa_id.json", None),
}


async def whatsapp_lead(db: Database, kind: privacy.IdentityKind) -> tuple[str, privacy.Identity]:
    """The lead a first message made, and how a request of this kind names it."""
    fixture, value = SENDERS[kind]
    lead_id = await deliver(db, wa_id_only_body() if kind == "wa_id" else recorded(fixture))
    return lead_id, privacy.identity_of(kind, value or lead_id)


@pytest.mark.parametrize("kind", list(SENDERS))
async def test_a_lead_without_a_phone_is_exported_and_erased_by_what_is_known(
    db: Database, kind: privacy.IdentityKind
) -> None:
    lead_id, identity = await whatsapp_lead(db, kind)
    document = json.loads(await privacy_export.export(db, actor=ADMIN, fmt="json", **identity))
    assert document["subject"]["id"] == lead_id and document["subject"]["phone"] is None
    assert len(document["messages"]) == 1
    assert document["privacy_requests"][0]["kind"] == "access"

    report = await privacy.erase(db, actor=ADMIN, **identity)
    assert (report.lead_id, report.messages, report.webhook_bodies) == (lead_id, 1, 1)
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
    assert lead is not None and lead.erased_at is not None
    indexes = (lead.phone_index, lead.bsuid_index, lead.wa_id_index, lead.username_index)
    assert indexes == (None, None, None, None) and lead.username_enc is None
    with pytest.raises(Gone, match=f"lead {lead_id} was erased"):
        await get_lead(db, actor=ADMIN, lead_id=lead_id)

    refused = Gone if kind == "lead_id" else NotFound
    with pytest.raises(refused) as export_refused:
        await privacy_export.export(db, actor=ADMIN, fmt="json", **identity)
    with pytest.raises(refused) as erase_refused:
        await privacy.erase(db, actor=ADMIN, **identity)
    if kind != "lead_id":  # the kind only, never the value asked for
        message = f"no lead with that {kind} (never stored, or already erased)"
        assert export_refused.value.message == erase_refused.value.message == message


async def test_ingest_indexes_the_username_and_the_lookup_ignores_at_and_case(
    db: Database,
) -> None:
    lead_id = await deliver(db, recorded("username_user_without_wa_id.json"))
    for typed in (USERNAME, "@maya.tlv", " MAYA.tlv ", "\u200e@Maya.Tlv"):
        document = await privacy_export.gather(db, actor=ADMIN, username=typed)
        assert document["subject"]["id"] == lead_id
        assert document["subject"]["username"] == USERNAME  # kept as WhatsApp sent it
    with pytest.raises(NotFound):  # only a leading "@" is not part of the username
        await privacy_export.gather(db, actor=ADMIN, username="maya.tlv@")


async def test_a_username_stored_before_its_index_existed_is_found_and_indexed(
    db: Database,
) -> None:
    lead_id = await deliver(db, recorded("username_user_without_wa_id.json"))
    async with db.session() as session:  # as migration 0007 leaves a lead stored before it
        await session.execute(update(Lead).values(username_index=None))
        await session.commit()
    record = await privacy.record_request(db, actor=ADMIN, kind="access", username=USERNAME)
    assert record.lead_id == lead_id
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
    assert lead is not None and lead.username_index == username_index(db.vault, USERNAME)


async def test_a_username_two_leads_have_had_is_refused_not_guessed(db: Database) -> None:
    body = json.loads(recorded("username_user_without_wa_id.json"))
    first = await deliver(db, json.dumps(body).encode())
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["user_id"] = value["messages"][0]["from_user_id"] = "IL.999"
    value["messages"][0]["id"] = "wamid.another-user-with-that-username"
    assert await deliver(db, json.dumps(body).encode()) != first
    with pytest.raises(InvalidInput) as refused:
        await privacy.erase(db, actor=ADMIN, username=USERNAME)
    assert refused.value.field == "username"
    assert refused.value.message == (
        "more than one lead has had that username; name the person by bsuid, wa_id, phone "
        "or lead_id"
    )


async def test_a_person_is_found_by_e_mail_in_any_case_and_a_shared_one_is_refused(
    db: Database,
) -> None:
    def lead(name: str, phone: str, email: str) -> LeadCreate:
        return LeadCreate(name=name, phone=phone, email=email)

    noa = await create_lead(db, actor=ADMIN, data=lead("נועה", "+972526660001", "Noa@Example.com"))
    document = await privacy_export.gather(db, actor=ADMIN, email=" noa@EXAMPLE.COM ")
    assert document["subject"]["id"] == noa.id
    for name, phone in (("דן", "+972526660002"), ("רותם", "+972526660003")):
        await create_lead(db, actor=ADMIN, data=lead(name, phone, "family@example.com"))
    with pytest.raises(InvalidInput) as shared:
        await privacy.erase(db, actor=ADMIN, email="family@example.com")
    assert shared.value.field == "email"
    assert shared.value.message == (
        "more than one lead has that e-mail address; name the person by phone, bsuid, wa_id "
        "or lead_id"
    )
    with pytest.raises(NotFound, match="no lead with that email"):
        await privacy.erase(db, actor=ADMIN, email="nobody@example.com")
    report = await privacy.erase(db, actor=ADMIN, email="NOA@example.com")
    assert report.lead_id == noa.id


async def test_the_person_is_named_by_exactly_one_identity(db: Database) -> None:
    await seed_person(db)
    with pytest.raises(
        InvalidInput, match="one of phone, bsuid, wa_id, username, email, lead_id"
    ) as none:
        await privacy.erase(db, actor=ADMIN)
    assert none.value.field == "phone"
    with pytest.raises(InvalidInput, match="phone or bsuid, not both") as two:
        await privacy.erase(db, actor=ADMIN, phone=PHONE, bsuid=BSUID)
    assert two.value.field == "bsuid"
    assert await privacy.list_requests(db, actor=ADMIN) == []


@pytest.mark.parametrize(
    ("kind", "value", "says"),
    [
        ("bsuid", "972526667777", "a BSUID is a country code"),
        ("bsuid", "IL.ENT.5550000000000000001", "parent id"),
        ("wa_id", "IL.5550002223334445556", "a wa_id is digits"),
        ("username", "maya tlv", "a username has no spaces"),
        ("lead_id", "42", "a lead id is a UUID"),
        ("email", "noa at example", "an e-mail address"),
        ("phone", "maya.tlv", "not a phone number"),
    ],
)
async def test_a_value_not_of_its_kind_is_refused_naming_the_field(
    db: Database, kind: privacy.IdentityKind, value: str, says: str
) -> None:
    with pytest.raises(InvalidInput, match=says) as refused:
        await privacy_export.export(db, actor=ADMIN, fmt="json", **privacy.identity_of(kind, value))
    assert refused.value.field == kind


async def test_an_interrupted_erasure_is_finished_by_erasing_again(db: Database) -> None:
    lead_id = await seed_person(db)
    async with db.session() as session:  # the erasure's first step committed, then a crash
        await privacy.open_request(session, actor=ADMIN, kind="erasure", lead_id=lead_id)
        await session.execute(update(Lead).values(erased_at=utcnow()))
        await session.commit()
    report = await privacy.erase(db, actor=ADMIN, phone=PHONE)
    assert report.lead_id == lead_id and report.messages == 1
    [request] = await privacy.list_requests(db, actor=ADMIN)
    assert request.completed_at is not None
    with pytest.raises(Gone, match=f"lead {lead_id} was erased"):
        await privacy.erase(db, actor=ADMIN, lead_id=lead_id)
    with pytest.raises(Gone):
        await privacy.record_request(db, actor=ADMIN, kind="access", lead_id=lead_id)


def _wait_briefly(dbapi_connection: Any, _record: Any) -> None:
    """A key store connection that gives up on a held write lock after 200 ms, not 10 s."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=200")
    cursor.close()


async def test_an_erasure_the_key_store_refuses_leaves_the_lead_refused_until_finished(
    db: Database,
) -> None:
    """The lead is marked erased before its key goes: an erasure that fails at the key store
    (another process holds its write lock) leaves every write refused and its request open;
    erasing again finishes it."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's write lock and busy timeout")
    lead_id = await seed_person(db)
    other = open_database_like(db)
    sqlalchemy_event.listen(other.vault.engine.sync_engine, "connect", _wait_briefly)
    await other.start()
    writer = sqlite3.connect(str(make_url(db.vault.url).database), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            await privacy.erase(other, actor=ADMIN, lead_id=lead_id)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        await other.dispose()
    with pytest.raises(Gone):
        await get_lead(db, actor=ADMIN, lead_id=lead_id)
    [request] = await privacy.list_requests(db, actor=ADMIN)
    assert (request.kind, request.completed_at) == ("erasure", None)
    report = await privacy.erase(db, actor=ADMIN, lead_id=lead_id)
    assert (report.lead_id, report.messages) == (lead_id, 1)


async def test_an_erasure_interrupted_after_its_key_went_leaves_username_lookups_working(
    db: Database,
) -> None:
    """The usernames stored before their index existed are indexed at the first lookup, but
    never an erased lead's: its key may be gone already, and its username with it."""
    first = await deliver(db, recorded("username_user_without_wa_id.json"))
    body = json.loads(recorded("username_user_without_wa_id.json"))
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["user_id"] = value["messages"][0]["from_user_id"] = "IL.999"
    value["contacts"][0]["profile"]["username"] = "noa.hfa"
    value["messages"][0]["id"] = "wamid.another-user"
    second = await deliver(db, json.dumps(body).encode())
    async with db.session() as session:  # as migration 0007 leaves leads stored before it
        await session.execute(update(Lead).values(username_index=None))
        # The first's erasure: its first step committed, its key destroyed, then a crash.
        await privacy.open_request(session, actor=ADMIN, kind="erasure", lead_id=first)
        await session.execute(update(Lead).where(Lead.id == first).values(erased_at=utcnow()))
        await session.commit()
    await db.vault.destroy("lead", first)

    record = await privacy.record_request(db, actor=ADMIN, kind="access", username="noa.hfa")
    assert record.lead_id == second
    with pytest.raises(NotFound):  # never indexed: its username cannot be read any more
        await privacy.erase(db, actor=ADMIN, username=USERNAME)
    report = await privacy.erase(db, actor=ADMIN, lead_id=first)  # finished by its id
    assert report.lead_id == first


# WhatsApp message ids carry the user's number: "wamid.HBgM" + base64 of "972521234567" ...
NUMBER_IN_WAMIDS = "HBgMOTcyNTIxMjM0NTY3"
SENDER_WA_ID, SENDER_BSUID = "972521234567", "IL.5550001112223334445"  # the recorded sender


async def test_erasure_forgets_the_whatsapp_ids_kept_in_the_clear(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    lead_id = await deliver(db, recorded("text_hebrew_emoji.json"))
    outbound = json.loads(recorded("status_read.json"))["entry"][0]["changes"][0]["value"]
    async with db.session() as session:
        session.add(
            Message(
                id=new_id(),
                lead_id=lead_id,
                direction="outbound",
                type="text",
                wa_message_id=outbound["statuses"][0]["id"],
                status="sent",
            )
        )
        await session.commit()
    await deliver(db, recorded("status_read.json"))
    await deliver(db, recorded("user_preferences_stop.json"))
    async with db.session() as session:  # a status's key, as versions before status_events kept
        session.add(AppliedItem(dedupe_key=status_key(outbound["statuses"][0]["id"], "sent")))
        await session.commit()
    before = _live_rows(settings.database_url, tmp_path)
    for trace in (NUMBER_IN_WAMIDS, SENDER_BSUID):
        assert trace.lower() in before  # each was kept in the clear before the erasure
    await privacy.erase(db, actor=ADMIN, bsuid=SENDER_BSUID)
    after = _live_rows(settings.database_url, tmp_path)
    assert [t for t in (NUMBER_IN_WAMIDS, SENDER_BSUID, SENDER_WA_ID) if t.lower() in after] == []
    async with db.session() as session:
        kept = await session.scalar(
            select(func.count()).select_from(Message).where(Message.lead_id == lead_id)
        )
    assert kept == 2  # the messages stay, for the statistics, without their ids


async def test_erasure_forgets_its_own_lead_s_message_ids_only(db: Database) -> None:
    """A wamid's "_" is no LIKE wildcard: another lead's wamid that differs there keeps its
    keys. A message's quoted id (context) is forgotten with its own."""
    ids = {"mine": "wamid.HBgM_1", "theirs": "wamid.HBgMx1"}
    leads = {}
    for (who, wamid), phone in zip(ids.items(), ("+972526660011", "+972526660012"), strict=True):
        lead = await create_lead(db, actor=ADMIN, data=LeadCreate(name=who, phone=phone))
        leads[who] = lead.id
        async with db.session() as session:
            session.add_all([
                Message(lead_id=lead.id, direction="outbound", type="text", status="read",
                        wa_message_id=wamid),
                Message(lead_id=lead.id, direction="inbound", type="text", status="received",
                        wa_message_id=f"{wamid}.reply", context_wa_message_id=wamid),
                # Keys as versions before status_events kept them for statuses.
                AppliedItem(dedupe_key=status_key(wamid, "read")),
                AppliedItem(dedupe_key=message_key(f"{wamid}.reply")),
            ])  # fmt: skip
            await session.commit()

    await privacy.erase(db, actor=ADMIN, lead_id=leads["mine"])

    async with db.session() as session:
        keys = sorted(await session.scalars(select(AppliedItem.dedupe_key)))
        kept = await session.execute(
            select(Message.lead_id, Message.wa_message_id, Message.context_wa_message_id)
        )
        messages = sorted(kept.all(), key=repr)
    theirs = ids["theirs"]
    assert keys == sorted([message_key(f"{theirs}.reply"), status_key(theirs, "read")])
    assert sorted(messages, key=repr) == sorted(
        [
            (leads["mine"], None, None),
            (leads["mine"], None, None),
            (leads["theirs"], theirs, None),
            (leads["theirs"], f"{theirs}.reply", theirs),
        ],
        key=repr,
    )


async def test_a_body_about_two_people_is_dropped_by_the_first_erasure_and_counted_once(
    db: Database,
) -> None:
    """Meta batches messages of several users in one body: the first erasure drops it; the
    second finds it dropped already, so neither counts it nor re-keys its hour again."""
    body = json.loads(recorded("text_hebrew_emoji.json"))
    value = body["entry"][0]["changes"][0]["value"]
    contact, message = value["contacts"][0], value["messages"][0]
    other = {"wa_id": "972521239999", "user_id": "IL.5550009998887776665"}
    value["contacts"].append({**contact, **other})
    value["messages"].append(
        {**message, "from": other["wa_id"], "id": "wamid.HBgMOTcyNTIxMjM5OTk5FQIAEhgg"}
    )
    await deliver(db, json.dumps(body).encode())

    first = await privacy.erase(db, actor=ADMIN, bsuid=SENDER_BSUID)
    second = await privacy.erase(db, actor=ADMIN, bsuid=other["user_id"])

    assert (first.messages, first.webhook_bodies) == (1, 1)
    assert (second.messages, second.webhook_bodies, second.rekeyed_hours) == (1, 0, 0)


async def test_statuses_that_never_find_their_message_are_pruned_with_their_keys(
    db: Database,
) -> None:
    await deliver_statuses(db, "wamid.NEVER-SENT", "wamid.ALSO-NEVER")
    async with db.session() as session:
        assert await delivery_statuses.prune_waiting(session) == 0  # still within the limit
        later = utcnow() + delivery_statuses.WAITING_LIMIT + timedelta(minutes=1)
        assert await delivery_statuses.prune_waiting(session, now=later) == 2
        await session.commit()
        left = await session.scalar(
            select(func.count())
            .select_from(AppliedItem)
            .where(AppliedItem.dedupe_key.like("status:wamid.%NEVER%"))
        )
        waiting = await session.scalar(select(func.count()).select_from(StatusEvent))
    assert (left, waiting) == (0, 0)


async def deliver_statuses(db: Database, *wamids: str) -> None:
    body = json.loads(recorded("status_read.json"))
    template = body["entry"][0]["changes"][0]["value"]["statuses"][0]
    body["entry"][0]["changes"][0]["value"]["statuses"] = [
        {**template, "id": wamid} for wamid in wamids
    ]
    store, processor = EventStore(db), Processor(db)
    try:
        raw = json.dumps(body).encode()
        event_id = await store.store(raw, {"x-hub-signature-256": sign(raw, TEST_APP_SECRET)})
        await processor.drain()
        while await _status(db, event_id) == "pending":
            await asyncio.sleep(0.05)
            await processor.drain()
    finally:
        await processor.stop()
        store.close()


# -- what each refusal says, and the edges of each kind of identity ----------------------


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        (
            {"bsuid": "US.ENT.1"},
            "that is a business portfolio's parent id (parent_user_id), which OvenAI does not "
            "store; give the user's own BSUID",
        ),
        (
            {"bsuid": "nope"},
            "a BSUID is a country code, a dot and letters or digits, e.g. US.13491208655302741918",
        ),
        ({"wa_id": "abcdefg"}, "a wa_id is digits with the country code, e.g. 972521234567"),
        ({"wa_id": "1234"}, "a wa_id is digits with the country code, e.g. 972521234567"),
        ({"wa_id": "1" * 21}, "a wa_id is digits with the country code, e.g. 972521234567"),
        ({"lead_id": "42"}, "a lead id is a UUID, as the API shows it"),
        ({"username": "@"}, "a username has no spaces, e.g. maya.tlv or @maya.tlv"),
        ({"username": ""}, "a username has no spaces, e.g. maya.tlv or @maya.tlv"),
        ({"username": "m" * 101}, "a username has no spaces, e.g. maya.tlv or @maya.tlv"),
        ({"email": "noa at example"}, "an e-mail address, e.g. noa@example.com"),
    ],
)
async def test_each_refusal_says_what_a_value_of_its_kind_looks_like(
    db: Database, identity: privacy.Identity, message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await privacy.record_request(db, actor=ADMIN, kind="access", **identity)
    assert refused.value.message == message


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        ({"wa_id": "12345"}, "no lead with that wa_id (never stored, or already erased)"),
        ({"wa_id": "1" * 20}, "no lead with that wa_id (never stored, or already erased)"),
        ({"username": "m" * 100}, "no lead with that username (never stored, or already erased)"),
        ({"username": "maya.tlv@"}, "no lead with that username (never stored, or already erased)"),
        ({"lead_id": "0190d7a4-0000-7000-8000-000000000000"}, "no lead with that lead_id"),
    ],
)
async def test_a_well_formed_identity_no_lead_has_is_not_found(
    db: Database, identity: privacy.Identity, message: str
) -> None:
    with pytest.raises(NotFound) as missing:
        await privacy.record_request(db, actor=ADMIN, kind="access", **identity)
    assert missing.value.message == message


async def test_identities_are_read_as_people_paste_them(db: Database) -> None:
    lead_id = await deliver(db, recorded("text_hebrew_emoji.json"))
    for identity in (
        {"bsuid": f"\u200e {SENDER_BSUID.lower()}\u200f"},
        {"wa_id": "+972-52-(123)-4567"},
        {"wa_id": "+972 52 123 4567"},
    ):
        async with db.session() as session:
            assert (await privacy.find_subject(session, db, **identity)).id == lead_id  # type: ignore[arg-type]


async def test_only_admins_are_told_so(db: Database) -> None:
    agent = Actor(user_id=None, role=Role.AGENT, email="agent@agency.co.il")
    with pytest.raises(PermissionDenied) as refused:
        await privacy.list_requests(db, actor=agent)
    assert refused.value.message == "only admins may handle data-subject requests"
    with pytest.raises(NotFound) as unknown:
        await privacy.record_request(db, actor=ADMIN, kind="deletion", phone=PHONE)
    assert unknown.value.message == "unknown request kind 'deletion'; use one of access, erasure"


# -- requests: one open per kind, newest first, and audited ------------------------------


async def test_each_kind_has_its_own_open_request_and_a_done_one_is_not_reused(
    db: Database,
) -> None:
    lead_id = await seed_person(db)
    await privacy_export.gather(db, actor=ADMIN, lead_id=lead_id)  # an access request, done
    again = await privacy.record_request(db, actor=ADMIN, kind="access", lead_id=lead_id)
    assert again.completed_at is None  # a new one: the done one is not reopened
    await privacy.erase(db, actor=ADMIN, lead_id=lead_id)
    listed = await privacy.list_requests(db, actor=ADMIN)
    assert [(r.kind, r.completed_at is None) for r in listed] == [
        ("erasure", False),
        ("access", True),
        ("access", False),
    ]  # newest first; erasing did not close the open access request
    async with db.session() as session:
        entries = await session.execute(
            select(AuditEntry.action, AuditEntry.subject_type, AuditEntry.subject_id)
            .where(AuditEntry.action.in_(("request_access", "erase")))
            .order_by(AuditEntry.at)
        )
        assert list(entries) == [("request_access", "lead", lead_id), ("erase", "lead", lead_id)]


async def test_an_erased_lead_is_gone_whatever_other_requests_are_open(db: Database) -> None:
    lead_id = await seed_person(db)
    await privacy.record_request(db, actor=ADMIN, kind="access", lead_id=lead_id)
    other = await create_lead(db, actor=ADMIN, data=LeadCreate(name="נוי", phone="+972521110000"))
    await privacy.record_request(db, actor=ADMIN, kind="erasure", lead_id=other.id)
    await privacy.erase(db, actor=ADMIN, lead_id=lead_id)
    with pytest.raises(Gone):
        await privacy.erase(db, actor=ADMIN, lead_id=lead_id)


# -- re-keying the hours of webhook bodies -----------------------------------------------


async def test_an_hour_is_rekeyed_only_once_its_write_grace_is_over(db: Database) -> None:
    hour = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(days=400)
    bucket = hour.strftime("%Y%m%d%H")
    closes = hour + timedelta(hours=1) + privacy.WRITE_GRACE
    for moment in (hour + timedelta(minutes=56), closes - timedelta(microseconds=1)):
        assert await privacy.rekey_webhook_hours(db, {bucket}, now=moment) == 0
    assert await privacy.rekey_webhook_hours(db, set(), now=closes) == 1  # the pending one


async def test_an_hour_rekeyed_before_or_never_keyed_is_rekeyed_again(db: Database) -> None:
    bucket = "2021030405"  # no key was ever made for it
    key = await db.vault.key("webhook", bucket, create=True)
    await db.vault.destroy("webhook", bucket)
    assert key
    async with db.session() as session:
        event_id = new_id()
        received = datetime(2021, 3, 4, 5, 30, tzinfo=UTC)  # in its hour, as the store writes
        session.add(WebhookEvent(id=event_id, received_at=received, key_bucket=bucket, body_size=1))
        await session.commit()
    now = utcnow()
    assert await privacy.rekey_webhook_hours(db, {bucket}, now=now) == 1
    async with db.session() as session:
        first = await session.scalar(
            select(WebhookEvent.key_bucket).where(WebhookEvent.id == event_id)
        )
    assert first is not None and re.fullmatch(r"2021030405\.[0-9a-f]{4}", first), first
    assert await privacy.rekey_webhook_hours(db, {first}, now=now) == 1
    async with db.session() as session:
        second = await session.scalar(
            select(WebhookEvent.key_bucket).where(WebhookEvent.id == event_id)
        )
    assert second is not None and re.fullmatch(r"2021030405\.[0-9a-f]{4}", second), second
    assert second != first


# -- the export's shape: every section, in order, in the agency's zone, one person only ---

ZONE = ZoneInfo("Asia/Jerusalem")


async def _everything_about(db: Database, lead_id: str, campaign_id: str, tag: str) -> None:
    """Two of each dated kind, written newest first, and one of each other kind (``tag``
    tells the leads' documents and campaign outcomes apart)."""
    key = await db.vault.key("lead", lead_id)
    old, new = utcnow() - timedelta(days=3), utcnow() - timedelta(days=1)
    async with db.session() as session:
        for at, words in ((new, "שנייה"), (old, "ראשונה")):
            consent_id = new_id()
            session.add(
                ConsentEvent(
                    id=consent_id, lead_id=lead_id, kind="opt_in", channel="web_form",
                    category="marketing", actor_label="web", at=at,
                    evidence_enc=CONSENT_EVENTS.cipher(key, consent_id).seal("evidence", words),
                )
            )  # fmt: skip
            message_id = new_id()
            session.add(
                Message(
                    id=message_id, lead_id=lead_id, direction="inbound", type="text",
                    status="received", created_at=at,
                    text_enc=MESSAGES.cipher(key, message_id).seal("text", words),
                )
            )  # fmt: skip
        session.add(CampaignRecipient(campaign_id=campaign_id, lead_id=lead_id, outcome=tag))
        await document_checklist.record_asked(
            session, lead_id=lead_id, names=[f"תלוש {tag}"], language="he", message_id=None
        )
        await session.commit()


async def test_the_export_holds_each_section_of_one_person_in_order_and_in_the_zone(
    db: Database,
) -> None:
    lead_id = await seed_person(db)
    other = await create_lead(db, actor=ADMIN, data=LeadCreate(name="נוי", phone="+972521110000"))
    async with db.session() as session:
        campaign = Campaign(template="t", criteria={}, created_by="x")
        session.add(campaign)
        await session.commit()
    for lead, tag in ((lead_id, "sent"), (other.id, "skipped")):
        await _everything_about(db, lead, campaign.id, tag)
    starts = datetime(2049, 1, 10, 9, 30, tzinfo=UTC)  # only the other has a viewing
    viewing = MeetingCreate(lead_id=other.id, starts_at=starts)
    await create_meeting(db, actor=ADMIN, data=viewing, zone=UTC)

    document = await privacy_export.gather(db, actor=ADMIN, zone=ZONE, lead_id=lead_id)

    assert set(document) == {
        "generated_at", "subject", "messages", "meetings", "consent_history", "audit_entries",
        "privacy_requests", "requested_documents", "campaigns", "files",
    }  # fmt: skip
    assert document["generated_at"].endswith(("+02:00", "+03:00"))  # the zone's offset
    assert document["subject"]["created_at"].endswith(("+02:00", "+03:00"))
    assert [m["text"] for m in document["messages"]] == ["ראשונה", "שנייה", TEXT]  # by time
    assert document["messages"][0]["created_at"].endswith(("+02:00", "+03:00"))
    assert document["meetings"] == [] and document["files"] == []
    consent = document["consent_history"]
    assert [c["evidence"] for c in consent] == ["ראשונה", "שנייה", "טופס באתר"]  # by time
    assert set(consent[0]) == {"at", "kind", "category", "channel", "actor", "evidence"}
    assert (consent[0]["kind"], consent[0]["channel"], consent[0]["actor"]) == (
        "opt_in",
        "web_form",
        "web",
    )
    assert consent[0]["at"].endswith(("+02:00", "+03:00"))
    [request] = document["privacy_requests"]
    assert request["kind"] == "access" and request["completed_at"] is not None
    [asked] = document["requested_documents"]
    assert set(asked) == {"name", "language", "asked_at", "media_file_id", "received_at"}
    assert (asked["name"], asked["language"], asked["media_file_id"]) == ("תלוש sent", "he", None)
    [reached] = document["campaigns"]
    assert reached == {
        "campaign_id": campaign.id,
        "outcome": "sent",
        "reason": None,
        "message_id": None,
        "created_at": reached["created_at"],
    }
    assert reached["created_at"].endswith(("+02:00", "+03:00"))
    async with db.session() as session:
        exported = await session.scalar(
            select(func.count()).where(
                AuditEntry.action == "export",
                AuditEntry.subject_type == "lead",
                AuditEntry.subject_id == lead_id,
            )
        )
    assert exported == 1


async def test_each_section_of_the_export_is_in_time_order_however_its_rows_were_written(
    db: Database,
) -> None:
    """Three rows of each kind, written in another order than their times, and named (or
    given outcomes) in a third: an index on the name or outcome, or the order of writing,
    would show them otherwise."""
    lead = await create_lead(db, actor=ADMIN, data=LeadCreate(name="נוי", phone="+972521110001"))
    key = await db.vault.key("lead", lead.id)
    day = timedelta(days=1)
    t1, t2, t3 = utcnow() - 3 * day, utcnow() - 2 * day, utcnow() - day
    # (time, a word sorting in a third order): written t2, t3, t1; the words sort t3, t1, t2.
    rows = [(t2, "ג", "queued"), (t3, "א", "cancelled"), (t1, "ב", "excluded")]
    async with db.session() as session:
        campaigns = [Campaign(template="t", criteria={}, created_by="x") for _ in rows]
        session.add_all(campaigns)
        await session.flush()
        for (at, word, outcome), campaign in zip(rows, campaigns, strict=True):
            message_id, consent_id = new_id(), new_id()
            evidence = CONSENT_EVENTS.cipher(key, consent_id).seal("evidence", word)
            session.add_all([
                Message(id=message_id, lead_id=lead.id, direction="inbound", type="text",
                        status="received", created_at=at,
                        text_enc=MESSAGES.cipher(key, message_id).seal("text", word)),
                ConsentEvent(id=consent_id, lead_id=lead.id, kind="opt_in", channel="web_form",
                             category="marketing", actor_label="web", at=at,
                             evidence_enc=evidence),
                PrivacyRequest(kind="access", lead_id=lead.id, requested_at=at, due_at=at,
                               completed_at=at, requested_by=word),
                RequestedDocument(lead_id=lead.id, name=word, language="he", created_at=at),
                CampaignRecipient(campaign_id=campaign.id, lead_id=lead.id, outcome=outcome,
                                  created_at=at),
            ])  # fmt: skip
            await session.flush()
        await session.commit()

    document = await privacy_export.gather(db, actor=ADMIN, lead_id=lead.id)

    in_time = ["ב", "ג", "א"]
    assert [m["text"] for m in document["messages"]] == in_time
    assert [c["evidence"] for c in document["consent_history"]] == in_time
    requests = document["privacy_requests"]
    assert [r["requested_by"] for r in requests] == [*in_time, ADMIN.email]  # and this one
    assert [d["name"] for d in document["requested_documents"]] == in_time
    assert [c["outcome"] for c in document["campaigns"]] == ["excluded", "queued", "cancelled"]


def test_a_json_export_is_indented_and_keeps_hebrew_readable() -> None:
    data = privacy_export.to_json({"subject": {"name": "דנה"}, "messages": []})
    assert data == '{\n  "subject": {\n    "name": "דנה"\n  },\n  "messages": []\n}'.encode()


def test_a_csv_writes_nested_values_as_json_and_an_empty_table_as_such() -> None:
    rows = [{"id": "1", "tags": ["חם", "VIP"], "when": None}]
    text = privacy_export._csv(rows).decode("utf-8")
    assert text == '\ufeffid,tags,when\r\n1,"[""חם"", ""VIP""]",\r\n'
    assert privacy_export._csv([]).decode("utf-8") == "\ufeffempty\r\n"


async def test_an_export_is_in_the_zone_asked_or_as_stored_and_zipped_deflated(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead_id = await seed_person(db)
    with pytest.raises(InvalidInput) as refused:
        await privacy_export.export(db, actor=ADMIN, fmt="xml", lead_id=lead_id)
    assert (refused.value.message, refused.value.field) == (
        "format must be one of json, csv",
        "format",
    )
    zoned = json.loads(
        await privacy_export.export(db, actor=ADMIN, fmt="json", zone=ZONE, lead_id=lead_id)
    )
    assert zoned["generated_at"].endswith(("+02:00", "+03:00"))
    monkeypatch.setenv("TZ", "Asia/Jerusalem")  # the machine's zone is not the answer's
    time.tzset()
    try:
        stored = await privacy_export.gather(db, actor=ADMIN, lead_id=lead_id)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert stored["generated_at"].endswith("+00:00")
    data = await privacy_export.export(db, actor=ADMIN, fmt="csv", lead_id=lead_id)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        kinds = {info.compress_type for info in archive.infolist()}
    assert kinds == {zipfile.ZIP_DEFLATED}


def test_a_value_json_cannot_hold_is_written_as_its_text() -> None:
    assert privacy_export._plain({"budget": Decimal("1.5"), "n": [1, None]}, None) == {
        "budget": "1.5",
        "n": [1, None],
    }


async def test_erasure_finds_the_keys_to_forget_by_index(db: Database) -> None:
    """PostgreSQL: the erasure's deletes of dedupe keys by their start (its messages'
    statuses, its preferences) are answered by the primary key's index, not by reading
    every key there is (migration 0032); scans are forbidden here, so a plan that could
    only read the whole table still shows a Seq Scan."""
    if not dialects.is_postgresql(db.dialect):
        pytest.skip("SQLite's LIKE ignores case: no index serves it there")
    lead_id = await seed_person(db)
    deletes: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, sql: str, params: Any, *_rest: Any) -> None:
        if sql.startswith("DELETE FROM applied_items"):
            deletes.append((sql, params))

    sqlalchemy_event.listen(db.engine.sync_engine, "before_cursor_execute", keep)
    try:
        await privacy.erase(db, actor=ADMIN, phone=PHONE)
    finally:
        sqlalchemy_event.remove(db.engine.sync_engine, "before_cursor_execute", keep)

    assert any("LIKE" in sql for sql, _params in deletes)
    async with db.engine.connect() as connection:
        await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for sql, params in deletes:
            plan = await connection.exec_driver_sql("EXPLAIN " + sql, params)
            lines = [row[0] for row in plan]
            assert not any("Seq Scan" in line for line in lines), (lead_id, lines)
        await connection.rollback()


async def test_an_hour_s_bodies_are_found_for_re_keying_by_the_time_index(db: Database) -> None:
    """PostgreSQL: re-keying an hour an erasure touched reads that hour's bodies through the
    ``received_at`` index (a body's key hour is the hour it was received), not every stored
    body's bucket: at a million leads the scan took 1.3-1.7 s an hour (bench/README.md
    "Growth with data"). Scans are forbidden here, so a plan that could only read the whole
    table still shows a Seq Scan."""
    if not dialects.is_postgresql(db.dialect):
        pytest.skip("the plan is PostgreSQL's")
    bucket = "2021030405"
    lookups: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, sql: str, params: Any, *_rest: Any) -> None:
        if sql.startswith("SELECT") and "FROM webhook_events" in sql and "key_bucket =" in sql:
            lookups.append((sql, params))

    sqlalchemy_event.listen(db.engine.sync_engine, "before_cursor_execute", keep)
    try:
        assert await privacy.rekey_webhook_hours(db, {bucket}, now=utcnow()) == 1
    finally:
        sqlalchemy_event.remove(db.engine.sync_engine, "before_cursor_execute", keep)

    assert lookups
    async with db.engine.connect() as connection:
        await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for sql, params in lookups:
            plan = await connection.exec_driver_sql("EXPLAIN " + sql, params)
            lines = [row[0] for row in plan]
            assert not any("Seq Scan" in line for line in lines), lines


async def test_re_keying_an_hour_leaves_every_other_hour_s_bodies_as_they_were(
    db: Database,
) -> None:
    """Only the hour's own bodies are re-sealed and moved to its fresh key: a body of the
    next hour keeps its bucket and still opens under its own key."""
    hours = ["2021040405", "2021040406"]
    ids: dict[str, str] = {}
    body = b'{"entry": []}'
    async with db.session() as session:
        for bucket in hours:
            key = await db.vault.key("webhook", bucket, create=True)
            event_id = new_id()
            sealed = crypto.encrypt(key, body, aad=crypto.aad("webhook_events", event_id, "body"))
            received = datetime.strptime(bucket, "%Y%m%d%H").replace(tzinfo=UTC)
            session.add(
                WebhookEvent(
                    id=event_id,
                    received_at=received + timedelta(minutes=30),
                    key_bucket=bucket,
                    body_enc=sealed,
                    body_size=len(body),
                )
            )
            ids[bucket] = event_id
        await session.commit()

    assert await privacy.rekey_webhook_hours(db, {hours[0]}, now=utcnow()) == 1

    async with db.session() as session:
        other = await session.get(WebhookEvent, ids[hours[1]])
    assert other is not None and other.key_bucket == hours[1] and other.body_enc is not None
    key = await db.vault.key("webhook", hours[1])
    aad = crypto.aad("webhook_events", other.id, "body")
    assert crypto.decrypt(key, other.body_enc, aad=aad) == body
