"""The consent ledger, the lawful basis and the do-not-contact list (ovenai.consent), through
the services that change them: lead creation and update, imports, erasure, the export."""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from ovenai import consent, lead_consent, privacy, privacy_export
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.lead_fields import LeadCreate, LeadUpdate
from ovenai.leads import create_lead, update_lead
from ovenai.models import ConsentEvent, DoNotContact, Lead
from ovenai.sealing import CONSENT_EVENTS
from support.ledger import stored_entries

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
    assert state.opted_out_at == state.ledger[-1].at  # the time of the opt-out entry
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
    assert [e.kind for e in state.ledger] == ["opt_out", "opt_in"]  # oldest first, by time


async def test_a_basis_change_needs_words_and_clearing_it_stops_marketing(db: Database) -> None:
    lead_id = await _lead(db)
    with pytest.raises(ValidationError, match="words are required"):
        lead_consent.ConsentChange(action="basis", basis="opt_in")
    set_basis = lead_consent.ConsentChange(action="basis", basis="inquiry_30a", words=NOTICE)
    state = await lead_consent.change(db, actor=SYSTEM, lead_id=lead_id, request=set_basis)
    assert state.may_market and state.marketing_basis_source == "agent"
    assert state.marketing_basis_at == state.ledger[-1].at
    cleared = lead_consent.ConsentChange(action="basis", basis=None)
    state = await lead_consent.change(db, actor=SYSTEM, lead_id=lead_id, request=cleared)
    assert state.marketing_basis is None and not state.may_market
    # Cleared with its time and source: nothing says there is a basis any more.
    assert (state.marketing_basis_at, state.marketing_basis_source) == (None, None)
    assert [e.basis for e in state.ledger] == ["inquiry_30a", None]


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
    # Once the person agrees again, the number leaves the list: writing in keeps them in.
    agreed = lead_consent.ConsentChange(action="opt_in", words="ביקש שוב לקבל עדכונים")
    state = await lead_consent.change(db, actor=SYSTEM, lead_id=again, request=agreed)
    assert not state.opted_out
    async with db.session() as session:
        assert not await consent.on_do_not_contact(session, phone_index)
        assert list(await session.scalars(select(DoNotContact))) == []


async def test_the_privacy_export_includes_the_ledger(db: Database) -> None:
    lead_id = await _lead(db, opted_in=True, consent_words="כן, שלחו לי עדכונים")
    document = await privacy_export.gather(db, actor=SYSTEM, lead_id=lead_id)
    [entry] = document["consent_history"]
    assert (entry["kind"], entry["channel"]) == ("opt_in", "api")
    assert "כן, שלחו לי עדכונים" in entry["evidence"]


def test_the_refusal_notice_is_found_in_a_text_only() -> None:
    assert consent.has_notice("דירה חדשה בחיפה!\nלהסרה   השיבו הסר")
    assert consent.has_notice("New listing. To unsubscribe, reply STOP")
    assert not consent.has_notice("דירה חדשה בחיפה")
    assert not consent.has_notice("")  # a template sent without a text
    assert not consent.has_notice(None)


async def test_an_opt_in_is_the_basis_opt_in_from_its_time(db: Database) -> None:
    lead_id = await _lead(db, opted_in=True, consent_words="כן, שלחו לי")
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=lead_id)
    [entry] = state.ledger
    assert (entry.kind, entry.basis, entry.words) == ("opt_in", "opt_in", "כן, שלחו לי")
    assert state.opted_in_at == state.marketing_basis_at == entry.at
    assert (state.marketing_basis, state.marketing_basis_source) == ("opt_in", "api")
    assert (state.opted_out, state.opted_out_at, state.may_market) == (False, None, True)


async def test_the_ledger_cuts_what_its_columns_cannot_hold(db: Database) -> None:
    lead_id = await _lead(db)
    words, actor = "מילים " * 400, "סוכנת.ארוכה@" + "a" * 300  # 2,400 and 312 characters
    kind = "preference_not_known_yet"  # a kind WhatsApp may add one day: kept, no change
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        await consent.record(
            session,
            db.vault,
            lead,
            kind=kind,
            source=consent.Source.WHATSAPP_PREFERENCES,
            words=words,
            actor=actor,
        )
        await session.commit()
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=lead_id)
    [entry] = state.ledger
    assert (entry.kind, entry.actor, entry.words) == (kind[:16], actor[:254], words[:2000])
    assert (state.opted_out, state.marketing_basis) == (False, None)


async def _agent_opts_out(db: Database, lead_id: str, *, at: datetime) -> None:
    """An agent's opt-out recorded at ``at`` (the ledger's own time)."""
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        kind, source = consent.Kind.OPT_OUT, consent.Source.AGENT
        await consent.record(session, db.vault, lead, kind=kind, source=source, at=at)
        await session.commit()


async def test_an_entry_at_the_same_moment_as_the_newest_one_decides(db: Database) -> None:
    lead_id = await _lead(db, opted_in=True, consent_words="כן")
    [opt_in] = (await lead_consent.show(db, actor=SYSTEM, lead_id=lead_id)).ledger
    await _agent_opts_out(db, lead_id, at=opt_in.at)
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=lead_id)
    assert state.opted_out and state.opted_out_at == opt_in.at


async def test_only_the_lead_s_own_entries_make_a_late_entry_late(db: Database) -> None:
    await _lead(db, phone="+972521234010", opted_in=True, consent_words="כן")  # an entry now
    other = await _lead(db, phone="+972521234011")  # no entry yet
    an_hour_ago = utcnow() - timedelta(hours=1)
    await _agent_opts_out(db, other, at=an_hour_ago)
    state = await lead_consent.show(db, actor=SYSTEM, lead_id=other)
    assert state.opted_out and state.opted_out_at == an_hour_ago


async def test_entries_written_before_the_ledger_read_as_the_ledger_s(db: Database) -> None:
    """WhatsApp's preferences were stored as "stop"/"resume" on channel
    "whatsapp_user_preferences" with Meta's value and no words; an entry at the same moment as
    another is listed by id; evidence that is not text shows as none."""
    lead_id = await _lead(db)
    key = await db.vault.key("lead", lead_id)
    at = utcnow() - timedelta(days=30)
    first, second, third = sorted(new_id() for _ in range(3))
    old = [  # written in this order: ids and writing order differ
        (third, "opt_in", "web_form", {"words": {"text": "כן"}, "basis": ["opt_in"]}),
        (second, "resume", "whatsapp_user_preferences", {"value": "resume"}),
        (first, "stop", "whatsapp_user_preferences", {"value": "stop", "words": None}),
    ]
    async with db.session() as session:
        for row_id, kind, channel, evidence in old:
            row = ConsentEvent(
                id=row_id, lead_id=lead_id, at=at, kind=kind, channel=channel, actor_label="x"
            )
            CONSENT_EVENTS.seal_into(row, key, {"evidence": orjson.dumps(evidence).decode()})
            session.add(row)
            await session.flush()
        await session.commit()
    ledger = (await lead_consent.show(db, actor=SYSTEM, lead_id=lead_id)).ledger
    assert [(e.kind, e.source, e.words, e.basis) for e in ledger] == [
        ("opt_out", "whatsapp_preferences", "WhatsApp: stop", None),
        ("opt_in", "whatsapp_preferences", "WhatsApp: resume", None),
        ("opt_in", "web_form", None, None),
    ]


async def test_the_do_not_contact_list_says_what_it_did(db: Database) -> None:
    stays = await _lead(db, phone="+972521234020")
    leaves = await _lead(db, phone="+972521234021")
    await update_lead(db, actor=SYSTEM, lead_id=leaves, changes=LeadUpdate(opted_in=False))
    async with db.session() as session:
        assert not await consent.on_do_not_contact(session, None)  # a lead without a phone
        assert not await consent.remember_do_not_contact(session, stays)  # never opted out
        assert await consent.remember_do_not_contact(session, leaves)
        await session.commit()
    async with db.session() as session:
        listed = await _row(db, leaves)
        assert await consent.on_do_not_contact(session, listed.phone_index)
        kept = await session.get(Lead, stays)
        assert kept is not None
        assert not await consent.apply_do_not_contact(session, db.vault, kept)
        lead = await session.get(Lead, leaves)
        assert lead is not None
        assert await consent.apply_do_not_contact(session, db.vault, lead)
        await session.commit()
    assert not (await lead_consent.show(db, actor=SYSTEM, lead_id=stays)).opted_out
    kind, channel, evidence = (await stored_entries(db, leaves))[-1]
    assert (kind, channel) == ("opt_out", "do_not_contact")
    assert evidence == {
        "words": None,
        "reason": "the phone is on the do-not-contact list (an erased lead opted out)",
    }


async def test_the_do_not_contact_look_up_finds_listed_phones_beyond_the_first_500(
    db: Database,
) -> None:
    """The list is read 500 phones a query: a listed phone in any chunk is found, and an
    unlisted one in none."""
    wanted = [f"idx-{n:05d}" for n in range(1_203)]
    listed = {wanted[0], wanted[499], wanted[500], wanted[999], wanted[1_000], wanted[1_202]}
    async with db.session() as session:
        session.add_all(DoNotContact(phone_index=index) for index in listed)
        await session.commit()
    async with db.session() as session:
        found = await consent.listed_not_to_contact(session, [*reversed(wanted), None])
    assert found == listed
