"""A sender is matched by BSUID, then wa_id, then phone; an unknown one becomes a lead."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ovenai.auth import Actor
from ovenai.lead_fields import LeadCreate
from ovenai.leads import create_lead
from ovenai.models import Role

pytestmark = pytest.mark.anyio

ADMIN = Actor(user_id=None, role=Role.ADMIN, email="system@example.co.il")


async def test_a_first_hebrew_message_makes_a_hebrew_whatsapp_lead(bodies, harness) -> None:
    await harness.deliver(bodies.text("wamid.N1", "שלום, מעוניינת בדירה 🏠", name="נועה בן דוד"))
    lead = await harness.lead(bsuid="IL.5550001112223334445")
    assert lead is not None
    assert (lead.source, lead.language, lead.name) == ("whatsapp", "he", "נועה בן דוד")
    assert (lead.wa_id, lead.phone, lead.profile_name) == (
        "972521234567",
        "+972521234567",
        "נועה בן דוד",
    )
    assert lead.last_inbound_at == datetime.fromtimestamp(1767000000, UTC)


async def test_an_english_message_makes_an_english_lead(bodies, harness) -> None:
    await harness.deliver(bodies.text("wamid.N2", "Hi, is the flat still available?"))
    lead = await harness.lead(wa_id="972521234567")
    assert lead is not None and lead.language == "en"


async def test_a_click_to_whatsapp_ad_is_the_lead_source(bodies, harness, load_payload) -> None:
    await harness.deliver(load_payload("referral_ctwa.json"))
    (lead,) = await harness.leads()
    assert lead.source == "ad_referral"


async def test_later_messages_go_to_the_same_lead_and_move_the_window(bodies, harness) -> None:
    await harness.deliver(bodies.text("wamid.A", "שלום", ts=1767000000))
    await harness.deliver(bodies.text("wamid.B", "עוד שאלה", ts=1767003600))
    (lead,) = await harness.leads()
    assert lead.last_inbound_at == datetime.fromtimestamp(1767003600, UTC)
    assert [m.wa_message_id for m in await harness.conversation(lead.id)] == ["wamid.A", "wamid.B"]


async def test_a_late_older_message_does_not_move_the_window_back(bodies, harness) -> None:
    await harness.deliver(bodies.text("wamid.B", "second", ts=1767003600))
    await harness.deliver(bodies.text("wamid.A", "first", ts=1767000000))
    (lead,) = await harness.leads()
    assert lead.last_inbound_at == datetime.fromtimestamp(1767003600, UTC)
    assert [m.wa_message_id for m in await harness.conversation(lead.id)] == ["wamid.A", "wamid.B"]


async def test_an_existing_lead_is_found_by_phone_and_gains_its_whatsapp_ids(
    bodies, harness, db
) -> None:
    made = await create_lead(db, actor=ADMIN, data=LeadCreate(name="Dana", phone="052-123-4567"))
    await harness.deliver(bodies.text("wamid.P", "hello", user_id="IL.777", wa_id="972521234567"))
    (lead,) = await harness.leads()
    assert lead.id == made.id
    found = await harness.lead(bsuid="IL.777")
    assert found is not None and found.id == made.id and found.name == "Dana"


async def test_bsuid_wins_over_wa_id(bodies, harness) -> None:
    await harness.deliver(bodies.text("wamid.1", "hi", user_id="IL.1", wa_id="972521111111"))
    await harness.deliver(bodies.text("wamid.2", "hi", user_id="IL.2", wa_id="972522222222"))
    # The same BSUID from another number is the same person (number not yet announced).
    await harness.deliver(bodies.text("wamid.3", "hi", user_id="IL.1", wa_id="972522222222"))
    first = await harness.lead(bsuid="IL.1")
    assert first is not None
    messages = [m.wa_message_id for m in await harness.conversation(first.id)]
    assert messages == ["wamid.1", "wamid.3"]


async def test_a_username_user_without_a_phone_is_a_lead_by_bsuid(
    bodies, harness, load_payload
) -> None:
    await harness.deliver(load_payload("username_user_without_wa_id.json"))
    (lead,) = await harness.leads()
    assert lead.bsuid_index is not None and lead.wa_id_index is None and lead.phone_index is None


async def test_a_changed_number_updates_the_same_lead(bodies, harness, load_payload) -> None:
    await harness.deliver(bodies.text("wamid.before", "hi", wa_id="972521234567"))
    await harness.deliver(load_payload("system_user_changed_number.json"))
    (lead,) = await harness.leads()
    found = await harness.lead(wa_id="972529876543")
    assert found is not None and found.id == lead.id and found.phone == "+972529876543"
    assert await harness.lead(phone="+972521234567") is None


async def test_a_changed_user_id_updates_the_same_lead(bodies, harness, load_payload) -> None:
    await harness.deliver(bodies.text("wamid.before", "hi", user_id="IL.5550001112223334445"))
    await harness.deliver(load_payload("system_user_changed_user_id.json"))
    (lead,) = await harness.leads()
    found = await harness.lead(bsuid="IL.5550009998887776665")
    assert found is not None and found.id == lead.id
