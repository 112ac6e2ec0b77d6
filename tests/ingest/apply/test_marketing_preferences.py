"""WhatsApp's Stop promotions / resume update the lead's marketing consent, newest wins."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ovenai.models import ConsentEvent

pytestmark = pytest.mark.anyio

T0 = 1767200000


def preference(bodies, value: str, ts: int) -> bytes:
    item = {
        "wa_id": "972521234567",
        "user_id": "IL.5550001112223334445",
        "detail": f"User requested to {value} marketing messages",
        "category": "marketing_messages",
        "value": value,
        "timestamp": ts,
    }
    contact = {"profile": {"name": "Noa"}, "wa_id": "972521234567"}
    return bodies.envelope({"contacts": [contact], "user_preferences": [item]}, "user_preferences")


async def consent_kinds(db) -> list[str]:
    async with db.session() as session:
        rows = await session.scalars(select(ConsentEvent).order_by(ConsentEvent.at))
        return [row.kind for row in rows]


async def test_stop_opts_the_lead_out_of_marketing(bodies, harness, load_payload, db) -> None:
    await harness.deliver(bodies.text("wamid.1", "hi"))
    await harness.deliver(load_payload("user_preferences_stop.json"))
    lead = await harness.lead(bsuid="IL.5550001112223334445")
    assert lead is not None and lead.opted_out_at == datetime.fromtimestamp(1767200000, UTC)
    assert await consent_kinds(db) == ["opt_out"]  # the ledger's kinds (ovenai.consent)


async def test_resume_opts_back_in(bodies, harness, db) -> None:
    await harness.deliver(preference(bodies, "stop", T0), preference(bodies, "resume", T0 + 60))
    lead = await harness.lead(wa_id="972521234567")
    assert lead is not None and lead.opted_out_at is None and lead.opted_in_at is not None
    assert await consent_kinds(db) == ["opt_out", "opt_in"]


async def test_a_late_stop_does_not_undo_a_newer_resume(bodies, harness, db) -> None:
    await harness.deliver(preference(bodies, "resume", T0 + 60))
    await harness.deliver(preference(bodies, "stop", T0))
    lead = await harness.lead(wa_id="972521234567")
    assert lead is not None and lead.opted_out_at is None
    assert await consent_kinds(db) == ["opt_out", "opt_in"]


async def test_a_stop_from_an_unknown_user_is_kept_on_a_new_lead(bodies, harness) -> None:
    await harness.deliver(preference(bodies, "stop", T0))
    lead = await harness.lead(bsuid="IL.5550001112223334445")
    assert lead is not None and lead.opted_out_at is not None


async def test_a_repeated_stop_is_recorded_once(bodies, harness, db) -> None:
    raw = preference(bodies, "stop", T0)
    await harness.deliver(raw, raw)
    assert await consent_kinds(db) == ["opt_out"]  # the ledger's kinds (ovenai.consent)
