"""Consent in the outbox, through the simulator: marketing needs a basis and no opt-out, at
queue time and again at send time; utility still goes; Meta's 131050 opts the lead out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update
from tests.outbox.conftest import dispatcher, make_lead, recently, reload, send

from ovenai import consent, consent_keywords
from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database
from ovenai.hooks import StatusChange
from ovenai.lead_consent import ConsentChange, change, show
from ovenai.models import ConsentEvent, Lead, Message
from ovenai.outbox.rules import LeadOptedOut, LeadWithoutBasis
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio

MARKETING = {"template": "followup_interest", "params": ["נועה", "רמת גן"]}
UTILITY = {"template": "welcome_new_lead", "params": ["נועה", "חיפה"]}


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
