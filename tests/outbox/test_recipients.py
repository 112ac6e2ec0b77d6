"""Where a message goes: the identity Meta confirmed last (the BSUID, then the wa_id, then
the phone), when it is queued and again when it is claimed."""

from __future__ import annotations

import pytest
from tests.outbox.conftest import make_lead, new_phone, recently, send

from ovenai import phones
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.lead_fields import LeadUpdate
from ovenai.leads import open_leads, seal_identity, update_lead
from ovenai.models import Lead
from ovenai.outbox import claims, rules

UNREADABLE = "99912345678901"  # a WhatsApp id the phone library reads as no number
OLD = "+972521234567"
NEW = "+972529876543"


@pytest.mark.parametrize(
    ("bsuid", "wa_id", "phone", "expected"),
    [
        ("IL.1", "972529876543", OLD, rules.Recipient(recipient="IL.1", fallback_to=NEW)),
        ("IL.1", None, OLD, rules.Recipient(recipient="IL.1", fallback_to=OLD)),
        ("IL.1", None, None, rules.Recipient(recipient="IL.1")),
        (None, "972529876543", OLD, rules.Recipient(to=NEW)),
        (None, UNREADABLE, OLD, rules.Recipient(to=f"+{UNREADABLE}")),
        (None, None, OLD, rules.Recipient(to=OLD)),
        (None, None, "972521234567", rules.Recipient(to=OLD)),
    ],
    ids=[
        "bsuid-then-wa_id",
        "bsuid-then-phone",
        "bsuid-alone",
        "wa_id-before-phone",
        "unreadable-wa_id-before-phone",
        "phone-alone",
        "plus-added",
    ],
)
def test_the_bsuid_comes_first_then_the_wa_id_then_the_phone(
    bsuid: str | None, wa_id: str | None, phone: str | None, expected: rules.Recipient
) -> None:
    assert phones.from_wa_id(UNREADABLE) is None
    assert rules.recipient_of(bsuid=bsuid, wa_id=wa_id, phone=phone) == expected


def test_a_lead_without_any_identity_cannot_be_sent_to() -> None:
    with pytest.raises(rules.NoWhatsAppIdentity):
        rules.recipient_of(bsuid=None, wa_id=None, phone=None)


def test_a_refused_bsuid_falls_back_to_the_number_only_once() -> None:
    job = claims.Job(id="m", lead_id="l", kind="text", attempts=1, recipient="IL.1")
    job.fallback_to = NEW

    assert job.fall_back_to_number()
    assert (job.to, job.recipient) == (NEW, None)
    assert not job.fall_back_to_number() and job.to == NEW


def test_a_bsuid_without_a_number_has_nothing_to_fall_back_to() -> None:
    job = claims.Job(id="m", lead_id="l", kind="text", attempts=1, recipient="IL.1")
    assert not job.fall_back_to_number() and job.recipient == "IL.1"


async def _jobs(db: Database) -> list[claims.Job]:
    now = utcnow()
    async with db.session() as session:
        rows = await claims.claim(session, worker="worker-1", limit=10, ttl_s=30.0, now=now)
        await session.commit()
        return await claims.load_jobs(db.vault, rows, now)


async def _announce_wa_id(db: Database, lead_id: str, wa_id: str) -> None:
    """Give the lead a wa_id of its own, as a user's number change does."""
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        key = await db.vault.key("lead", lead_id)
        seal_identity(db.vault, lead, key, {"wa_id": wa_id})
        await session.commit()


@pytest.mark.anyio
async def test_the_claim_sends_to_the_wa_id_and_not_to_the_phone_beside_it(db: Database) -> None:
    lead = await make_lead(db, phone=OLD, wrote_at=recently())
    await _announce_wa_id(db, lead.id, UNREADABLE)
    await send(db, lead.id, text="שלום")

    (job,) = await _jobs(db)

    assert (job.to, job.recipient, job.fallback_to, job.problem) == (
        f"+{UNREADABLE}",
        None,
        None,
        None,
    )


@pytest.mark.anyio
async def test_the_claim_sends_to_the_bsuid_with_the_wa_id_to_fall_back_to(db: Database) -> None:
    lead = await make_lead(db, phone=OLD, bsuid="IL.5550001112223334445", wrote_at=recently())
    await _announce_wa_id(db, lead.id, "972529876543")
    await send(db, lead.id, text="שלום")

    (job,) = await _jobs(db)

    assert (job.to, job.recipient, job.fallback_to) == (None, "IL.5550001112223334445", NEW)


@pytest.mark.anyio
async def test_a_lead_known_only_by_an_unreadable_wa_id_can_be_sent_to(db: Database) -> None:
    lead = await make_lead(db, bsuid="IL.1", wrote_at=recently())
    async with db.session() as session:
        row = await session.get(Lead, lead.id)
        assert row is not None
        key = await db.vault.key("lead", lead.id)
        seal_identity(db.vault, row, key, {"bsuid": None, "wa_id": UNREADABLE})
        await session.commit()
    await send(db, lead.id, text="שלום")

    (job,) = await _jobs(db)

    assert (job.to, job.problem) == (f"+{UNREADABLE}", None)


async def _agent_sets_phone(db: Database, lead_id: str, phone: str | None) -> None:
    changes = LeadUpdate.model_validate({"phone": phone})
    await update_lead(db, actor=Actor.system(), lead_id=lead_id, changes=changes)


@pytest.mark.anyio
async def test_a_phone_the_agent_corrects_is_where_the_next_message_goes(db: Database) -> None:
    lead = await make_lead(db, phone=OLD, wrote_at=recently())
    corrected = new_phone()
    await _agent_sets_phone(db, lead.id, corrected)
    await send(db, lead.id, text="שלום")

    (job,) = await _jobs(db)

    assert job.to == corrected


@pytest.mark.anyio
async def test_the_same_phone_again_keeps_the_wa_id_whatsapp_announced(db: Database) -> None:
    lead = await make_lead(db, phone=OLD, wrote_at=recently())
    await _announce_wa_id(db, lead.id, UNREADABLE)
    await _agent_sets_phone(db, lead.id, "052-123-4567")
    await send(db, lead.id, text="שלום")

    (job,) = await _jobs(db)

    assert job.to == f"+{UNREADABLE}"


@pytest.mark.anyio
async def test_a_phone_the_agent_clears_is_no_longer_written_to(db: Database) -> None:
    lead = await make_lead(db, phone=OLD, wrote_at=recently())
    await _agent_sets_phone(db, lead.id, None)

    async with db.session() as session:
        row = await session.get(Lead, lead.id)
        assert row is not None
        (record,) = await open_leads(db.vault, [row])
    assert (record.phone, record.wa_id) == (None, None)
    with pytest.raises(rules.NoWhatsAppIdentity):
        await send(db, lead.id, text="שלום")


@pytest.mark.anyio
async def test_a_phone_whose_wa_id_another_lead_holds_is_written_to_as_a_phone(
    db: Database,
) -> None:
    lead = await make_lead(db, phone=OLD, wrote_at=recently())
    other = await make_lead(db, wrote_at=recently())
    await _announce_wa_id(db, other.id, "972529876543")
    await _agent_sets_phone(db, lead.id, NEW)
    await send(db, lead.id, text="שלום")

    (job,) = await _jobs(db)

    assert job.to == NEW
