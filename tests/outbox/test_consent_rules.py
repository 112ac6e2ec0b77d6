"""Consent in the outbox, through the simulator: marketing needs a basis and no opt-out, at
queue time and again at send time; utility still goes; Meta's 131050 opts the lead out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update
from tests.outbox.conftest import dispatcher, make_lead, recently, reload, send

from ovenai import consent, consent_keywords, privacy
from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.columns import new_id
from ovenai.db import Database
from ovenai.hooks import SendFailure, StatusChange
from ovenai.lead_consent import ConsentChange, change, show
from ovenai.leads import LeadRecord
from ovenai.models import ConsentEvent, Lead, Message
from ovenai.outbox.rules import LeadOptedOut, LeadWithoutBasis
from ovenai.sealing import MESSAGES
from support.ledger import stored_entries
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio

MARKETING = {"template": "followup_interest", "params": ["נועה", "רמת גן"]}
UTILITY = {"template": "welcome_new_lead", "params": ["נועה", "חיפה"]}
NOTICE = "נשמח לשלוח לך גם נכסים דומים. להסרה השיבו הסר"


@pytest.fixture
def consent_hooks(seeded: Database) -> Iterator[None]:
    """The consent hooks installed as serve and the worker install them; put back after."""
    previous = consent_keywords.install(seeded.vault)
    yield
    if previous is None:
        consent_keywords.uninstall()
    else:
        consent_keywords.install(previous)


async def _clear_basis(db: Database, lead_id: str) -> None:
    async with db.session() as session:
        await session.execute(update(Lead).where(Lead.id == lead_id).values(marketing_basis=None))
        await session.commit()


async def _message(db: Database, message_id: str) -> Message:
    async with db.session() as session:
        row = await session.get(Message, message_id)
        assert row is not None
        return row


async def _sent(control: SimControl) -> list[dict[str, Any]]:
    return [m["body"] for m in (await control.outbox())["messages"]]


async def test_marketing_to_a_lead_without_a_basis_is_refused_with_the_reason(
    seeded: Database,
) -> None:
    lead = await make_lead(seeded)
    await _clear_basis(seeded, lead.id)
    with pytest.raises(LeadWithoutBasis) as refused:
        await send(seeded, lead.id, **MARKETING)
    assert refused.value.http_status == 409
    assert "no recorded basis for marketing" in refused.value.message
    assert (await send(seeded, lead.id, **UTILITY)).status == "queued"


async def test_a_basis_lost_after_queueing_stops_the_send_when_it_would_leave(
    seeded: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(seeded)
    marketing = await send(seeded, lead.id, **MARKETING)
    utility = await send(seeded, lead.id, **UTILITY)
    await _clear_basis(seeded, lead.id)

    await dispatcher(seeded, client).drain()

    refused = await _message(seeded, marketing.id)
    assert refused.status == "failed" and "no recorded basis" in (refused.error_title or "")
    assert (await _message(seeded, utility.id)).status == "sent"
    assert [body["template"]["name"] for body in await _sent(control)] == ["welcome_new_lead_he"]


async def test_an_opt_out_after_queueing_stops_marketing_at_send_time(
    seeded: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(seeded)
    marketing = await send(seeded, lead.id, **MARKETING)
    request = ConsentChange(action="opt_out", words="ביקשה בטלפון לא לקבל פרסומות")
    await change(seeded, actor=Actor.system(), lead_id=lead.id, request=request)
    with pytest.raises(LeadOptedOut):
        await send(seeded, lead.id, **MARKETING)

    await dispatcher(seeded, client).drain()

    assert (await _message(seeded, marketing.id)).status == "failed"
    assert await _sent(control) == []


async def test_meta_131050_on_a_marketing_send_opts_the_lead_out(
    seeded: Database, client: CloudApiClient, control: SimControl, consent_hooks: None
) -> None:
    lead = await make_lead(seeded, wrote_at=recently())
    queued = await send(seeded, lead.id, **MARKETING)
    await control.faults(errors=[{"code": 131050, "count": 1}])

    await dispatcher(seeded, client).drain()

    failed = await _message(seeded, queued.id)
    assert (failed.status, failed.error_code) == ("failed", 131050)
    assert (await reload(seeded, lead.id)).opted_out_at is not None
    state = await show(seeded, actor=Actor.system(), lead_id=lead.id)
    assert [(e.kind, e.source, e.actor) for e in state.ledger][-1] == (
        "opt_out",
        "meta_131050",
        consent.META_ACTOR,
    )
    assert not state.may_market
    with pytest.raises(LeadOptedOut):
        await send(seeded, lead.id, **MARKETING)
    assert (await send(seeded, lead.id, **UTILITY)).status == "queued"  # utility still goes


async def test_a_131050_in_a_failed_status_webhook_opts_the_lead_out_too(
    seeded: Database, consent_hooks: None
) -> None:
    lead = await make_lead(seeded)
    queued = await send(seeded, lead.id, **MARKETING)
    change_ = StatusChange(
        message_id=queued.id,
        lead_id=lead.id,
        wa_message_id="wamid.x",
        previous="sent",
        status="failed",
        at=recently(),
        error_code=131050,
    )
    async with seeded.session() as session:
        await consent_keywords.consent_after_status(session, [change_])
        await session.commit()
    assert (await reload(seeded, lead.id)).opted_out_at is not None
    async with seeded.session() as session:
        sources = list(
            await session.scalars(select(ConsentEvent.channel).order_by(ConsentEvent.at))
        )
    assert sources[-1] == "meta_131050"


async def test_a_131050_opts_out_only_on_a_failed_status(
    seeded: Database, consent_hooks: None
) -> None:
    lead = await make_lead(seeded)
    queued = await send(seeded, lead.id, **MARKETING)
    base = {"message_id": queued.id, "lead_id": lead.id, "previous": "sent", "at": recently()}
    changes = [
        StatusChange(**base, wa_message_id="wamid.a", status="failed", error_code=131026),
        StatusChange(**base, wa_message_id="wamid.b", status="delivered", error_code=131050),
    ]
    async with seeded.session() as session:
        await consent_keywords.consent_after_status(session, changes)
        await session.commit()
    assert (await reload(seeded, lead.id)).opted_out_at is None
    assert [kind for kind, _, _ in await stored_entries(seeded, lead.id)] == ["opt_in"]


async def test_131050_opts_out_each_lead_not_opted_out_yet_and_counts_them(
    seeded: Database,
) -> None:
    stopped = await make_lead(seeded, opted_out=True)
    first, second, other = [await make_lead(seeded) for _ in range(3)]
    to_stopped = await send(seeded, stopped.id, **UTILITY)  # (utility goes to anyone)
    to_first = await send(seeded, first.id, **MARKETING)
    to_second = await send(seeded, second.id, **MARKETING)
    to_other = await send(seeded, other.id, **MARKETING)
    failures = [
        SendFailure(to_stopped.id, 131050),
        SendFailure(to_first.id, 131050),
        SendFailure(to_second.id, 131050),
        SendFailure(to_other.id, 131026),
    ]
    async with seeded.session() as session:
        assert await consent_keywords.on_send_failures(session, seeded.vault, []) == 0
        assert await consent_keywords.on_send_failures(session, seeded.vault, failures) == 2
        await session.commit()
    opted_out = [
        (await reload(seeded, lead.id)).opted_out_at is not None for lead in (first, second, other)
    ]
    assert opted_out == [True, True, False]
    assert [kind for kind, _, _ in await stored_entries(seeded, stopped.id)] == ["opt_in"]
    template = (await _message(seeded, to_first.id)).template_name
    assert template is not None
    assert (await stored_entries(seeded, first.id))[-1] == (
        "opt_out",
        "meta_131050",
        {
            "words": None,
            "message_id": to_first.id,
            "template": template,
            "error_code": 131050,
            "meaning": "the user stopped marketing messages from this business",
        },
    )


async def _inquiry(
    db: Database, *, source: str = "whatsapp", opted_out: bool = False
) -> LeadRecord:
    """A lead who wrote in (within the window) from ``source``, with no basis yet."""
    lead = await make_lead(db, wrote_at=recently(), opted_out=opted_out)
    async with db.session() as session:
        values = {"source": source, "marketing_basis": None}
        await session.execute(update(Lead).where(Lead.id == lead.id).values(**values))
        await session.commit()
    return lead


async def _written_by(db: Database, lead_id: str, text: str) -> str:
    """An inbound message of the lead (one quoting our notice, say)."""
    async with db.session() as session:
        row = Message(id=new_id(), lead_id=lead_id, direction="inbound", type="text")
        row.status = "received"
        MESSAGES.seal_into(row, await db.vault.key("lead", lead_id), {"text": text})
        session.add(row)
        await session.commit()
    return row.id


async def test_the_notice_gives_the_30a_basis_to_each_inquiry_it_reached_once(
    seeded: Database,
) -> None:
    told, also_told = await _inquiry(seeded), await _inquiry(seeded)
    welcome = await send(seeded, told.id, text="שלום! איך אפשר לעזור?")  # no notice in it
    first = await send(seeded, told.id, text=NOTICE)
    again = await send(seeded, told.id, text=NOTICE)  # two notices in one batch
    also = await send(seeded, also_told.id, text=NOTICE)
    elsewhere = await _inquiry(seeded)
    await send(seeded, elsewhere.id, text=NOTICE)  # reached, but not in this batch
    plain = await send(seeded, elsewhere.id, text="תודה, נחזור אליך בהקדם")
    manual = await _inquiry(seeded, source="manual")  # not an inquiry
    to_manual = await send(seeded, manual.id, text=NOTICE)
    stopped = await _inquiry(seeded, opted_out=True)
    to_stopped = await send(seeded, stopped.id, text=NOTICE)
    quoting = await _inquiry(seeded)
    quoted = await _written_by(seeded, quoting.id, NOTICE)  # the lead wrote it, we did not
    erased = await _inquiry(seeded)
    to_erased = await send(seeded, erased.id, text=NOTICE)
    await privacy.erase(seeded, actor=Actor.system(), lead_id=erased.id)
    batch = [m.id for m in (welcome, first, again, also, plain, to_manual, to_stopped, to_erased)]
    async with seeded.session() as session:
        assert await consent_keywords.on_notice_sent(session, seeded.vault, []) == 0
        done = await consent_keywords.on_notice_sent(session, seeded.vault, [*batch, quoted])
        await session.commit()
    assert done == 2
    bases = [(await reload(seeded, lead.id)).marketing_basis for lead in (told, also_told)]
    assert bases == ["inquiry_30a", "inquiry_30a"]
    for lead in (elsewhere, manual, stopped, quoting, erased):
        assert (await reload(seeded, lead.id)).marketing_basis is None
    [(kind, channel, evidence)] = [
        e for e in await stored_entries(seeded, told.id) if e[0] == "basis"
    ]
    assert (kind, channel) == ("basis", "inquiry_notice")
    assert evidence == {
        "words": NOTICE,
        "basis": "inquiry_30a",
        "message_id": evidence["message_id"],
        "template": None,
    }
    assert evidence["message_id"] in (first.id, again.id)
