"""The consent ledger, the lawful basis and the do-not-contact list (ovenai.consent), through
the services that change them: lead creation and update, imports, erasure, the export."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from ovenai import consent, lead_consent, privacy, privacy_export
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.lead_fields import LeadCreate, LeadUpdate
from ovenai.leads import create_lead, update_lead
from ovenai.models import ConsentEvent, DoNotContact, Lead

pytestmark = pytest.mark.anyio

SYSTEM = Actor.system()
NOTICE = "תודה על פנייתך! נשמח לשלוח לך נכסים דומים; להסרה השיבו הסר"


async def _lead(db: Database, phone: str = "+972521234000", **fields: object) -> str:
    data = LeadCreate(name="דנה לוי", phone=phone, **fields)  # type: ignore[arg-type]
    return (await create_lead(db, actor=SYSTEM, data=data)).id


async def _row(db: Database, lead_id: str) -> Lead:
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        return lead


async def test_a_lead_created_without_a_basis_may_get_utility_messages_only(db: Database) -> None:
    lead_id = await _lead(db)
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=lead_id)
    assert (state.marketing_basis, state.may_market, state.ledger) == (None, False, [])


async def test_the_inquiry_exception_is_a_basis_only_with_the_notice_the_lead_was_shown(
    db: Database,
) -> None:
    with pytest.raises(ValidationError, match="consent_words"):
        LeadCreate(name="דנה", phone="0521234001", marketing_basis="inquiry_30a")
    lead_id = await _lead(db, marketing_basis="inquiry_30a", consent_words=NOTICE)
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=lead_id)
    assert (state.marketing_basis, state.marketing_basis_source, state.may_market) == (
        "inquiry_30a",
        "api",
        True,
    )
    [entry] = state.ledger
    assert (entry.kind, entry.source, entry.words, entry.basis) == (
        "basis",
        "api",
        NOTICE,
        "inquiry_30a",
    )
    assert entry.actor == "system"


async def test_the_words_are_sealed_under_the_lead_s_key(db: Database) -> None:
    lead_id = await _lead(db, opted_in=True, consent_words="כן, שלחו לי עדכונים")
    async with db.session() as session:
        [row] = list(await session.scalars(select(ConsentEvent)))
    assert row.evidence_enc is not None and "עדכונים".encode() not in row.evidence_enc
    assert (row.kind, row.channel, row.lead_id) == ("opt_in", "api", lead_id)


async def test_an_opt_out_through_the_api_writes_a_ledger_entry(db: Database) -> None:
    lead_id = await _lead(db, opted_in=True, consent_words="כן")
    await update_lead(db, actor=SYSTEM, lead_id=lead_id, changes=LeadUpdate(opted_in=False))
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=lead_id)
    assert [(e.kind, e.source) for e in state.ledger] == [("opt_in", "api"), ("opt_out", "agent")]
    # (the REST API's PATCH records source "api": tests/web/api/test_consent.py)
    assert state.opted_out and not state.may_market
    await update_lead(db, actor=SYSTEM, lead_id=lead_id, changes=LeadUpdate(opted_in=True))
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=lead_id)
    assert [e.kind for e in state.ledger] == ["opt_in", "opt_out", "opt_in"]
    assert state.may_market


async def test_the_newest_entry_decides_even_when_recorded_late(db: Database) -> None:
    lead_id = await _lead(db, opted_in=True, consent_words="כן")
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        late = utcnow() - timedelta(hours=1)
        await consent.record(
            session, db.vault, lead, kind=consent.Kind.OPT_OUT, source=consent.Source.AGENT, at=late
        )
        await session.commit()
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=lead_id)
    assert not state.opted_out and len(state.ledger) == 2  # recorded, but older: no change


async def test_a_basis_change_needs_words_and_clearing_it_stops_marketing(db: Database) -> None:
    lead_id = await _lead(db)
    with pytest.raises(ValidationError, match="words are required"):
        lead_consent.ConsentChange(action="basis", basis="opt_in")
    set_basis = lead_consent.ConsentChange(action="basis", basis="inquiry_30a", words=NOTICE)
    state = await lead_consent.change(db, actor=SYSTEM, lead_id=lead_id, request=set_basis)
    assert state.may_market and state.marketing_basis_source == "agent"
    cleared = lead_consent.ConsentChange(action="basis", basis=None)
    state = await lead_consent.change(db, actor=SYSTEM, lead_id=lead_id, request=cleared)
    assert state.marketing_basis is None and not state.may_market


async def test_erasing_an_opted_out_lead_keeps_only_a_keyed_hash_of_its_phone(
    db: Database,
) -> None:
    kept = await _lead(db, phone="+972521234002")
    gone = await _lead(db, phone="+972521234003")
    await update_lead(db, actor=SYSTEM, lead_id=gone, changes=LeadUpdate(opted_in=False))
    phone_index = (await _row(db, gone)).phone_index
    await privacy.erase(db, actor=SYSTEM, lead_id=gone)
    await privacy.erase(db, actor=SYSTEM, lead_id=kept)  # never opted out: not listed
    async with db.session() as session:
        listed = list(await session.scalars(select(DoNotContact)))
    assert [row.phone_index for row in listed] == [phone_index]
    assert phone_index is not None and "521234003" not in phone_index
    # A new lead with that phone, in any form, is opted out at once.
    again = await _lead(db, phone="052-123-4003", opted_in=True, consent_words="כן")
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=again)
    assert state.opted_out and [e.source for e in state.ledger][-1] == "do_not_contact"
    other = await _lead(db, phone="052-123-4002")
    assert not (await lead_consent.show(db, actor=SYSTEM, lead_id=other)).opted_out


async def test_the_privacy_export_includes_the_ledger(db: Database) -> None:
    lead_id = await _lead(db, opted_in=True, consent_words="כן, שלחו לי עדכונים")
    document = await privacy_export.gather(db, actor=SYSTEM, lead_id=lead_id)
    [entry] = document["consent_history"]
    assert (entry["kind"], entry["channel"]) == ("opt_in", "api")
    assert "כן, שלחו לי עדכונים" in entry["evidence"]
