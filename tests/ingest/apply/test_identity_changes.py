"""A ``system`` message moves the lead to the identity Meta announces, and replies follow.

A number change gives the lead the new ``wa_id`` even when it is no phone number the phone
library can read; the phone follows only when it can, and is never written to again
otherwise. The old number's BSUID goes with the old number; a new BSUID given with the
change (or by a BSUID change) becomes the lead's.
"""

from __future__ import annotations

from typing import Any

import pytest

from ovenai import phones
from ovenai.leads import LeadRecord
from ovenai.outbox import rules

pytestmark = pytest.mark.anyio

OLD = "972521234567"
UNREADABLE = "99912345678901"  # a WhatsApp id that is no phone number to the phone library
READABLE = "972529876543"
OLD_BSUID = "IL.5550001112223334445"
NEW_BSUID = "IL.5550009998887776665"


def system_body(bodies: Any, wamid: str, **system: str) -> bytes:
    """A ``system`` message from the old number and BSUID (Meta: messages webhook › system
    messages); a number change unless ``type`` says otherwise."""
    message: dict[str, Any] = {
        "from": OLD,
        "from_user_id": OLD_BSUID,
        "id": wamid,
        "timestamp": "1767000960",
        "type": "system",
        "system": {"body": "User Noa changed", "type": "user_changed_number", **system},
    }
    raw: bytes = bodies.envelope({"messages": [message]})
    return raw


def address(lead: LeadRecord) -> rules.Recipient:
    """Where the next message to this lead goes."""
    return rules.recipient_of(bsuid=lead.bsuid, wa_id=lead.wa_id, phone=lead.phone)


async def only_lead(harness: Any) -> LeadRecord:
    (row,) = await harness.leads()
    found = await harness.lead(wa_id=UNREADABLE) or await harness.lead(wa_id=READABLE)
    assert found is not None and found.id == row.id
    return found


async def test_a_number_change_to_an_unreadable_number_moves_the_reply_there(
    bodies: Any, harness: Any
) -> None:
    assert phones.from_wa_id(UNREADABLE) is None
    await harness.deliver(bodies.text("wamid.before", "שלום", wa_id=OLD))
    await harness.deliver(system_body(bodies, "wamid.change", wa_id=UNREADABLE))

    lead = await only_lead(harness)

    assert (lead.wa_id, lead.phone, lead.bsuid) == (UNREADABLE, f"+{OLD}", None)
    assert address(lead) == rules.Recipient(to=f"+{UNREADABLE}")


async def test_a_number_change_to_a_readable_number_moves_the_phone_too(
    bodies: Any, harness: Any
) -> None:
    await harness.deliver(bodies.text("wamid.before", "שלום", wa_id=OLD))
    await harness.deliver(system_body(bodies, "wamid.change", wa_id=READABLE))

    lead = await only_lead(harness)

    assert (lead.wa_id, lead.phone, lead.bsuid) == (READABLE, f"+{READABLE}", None)
    assert address(lead) == rules.Recipient(to=f"+{READABLE}")


async def test_a_new_bsuid_given_with_the_number_change_becomes_the_lead_s(
    bodies: Any, harness: Any
) -> None:
    await harness.deliver(bodies.text("wamid.before", "שלום", wa_id=OLD))
    change = system_body(bodies, "wamid.change", wa_id=UNREADABLE, user_id=NEW_BSUID)
    await harness.deliver(change)

    lead = await only_lead(harness)

    assert (lead.wa_id, lead.bsuid) == (UNREADABLE, NEW_BSUID)
    expected = rules.Recipient(recipient=NEW_BSUID, fallback_to=f"+{UNREADABLE}")
    assert address(lead) == expected


async def test_a_bsuid_change_after_the_number_change_is_kept(bodies: Any, harness: Any) -> None:
    await harness.deliver(bodies.text("wamid.before", "שלום", wa_id=OLD))
    await harness.deliver(system_body(bodies, "wamid.number", wa_id=UNREADABLE))
    user_id_change = {"type": "user_changed_user_id", "user_id": NEW_BSUID}
    await harness.deliver(system_body(bodies, "wamid.bsuid", **user_id_change))

    lead = await only_lead(harness)

    assert (lead.wa_id, lead.bsuid) == (UNREADABLE, NEW_BSUID)


async def test_a_late_message_from_the_old_number_does_not_bring_its_bsuid_back(
    bodies: Any, harness: Any
) -> None:
    await harness.deliver(bodies.text("wamid.before", "שלום", wa_id=OLD))
    await harness.deliver(system_body(bodies, "wamid.change", wa_id=UNREADABLE))
    late = bodies.text("wamid.late", "עוד משהו", wa_id=OLD, user_id=OLD_BSUID, ts=1767000900)
    await harness.deliver(late)

    lead = await only_lead(harness)

    assert [m.wa_message_id for m in await harness.conversation(lead.id)] == [
        "wamid.before",
        "wamid.late",
        "wamid.change",
    ]
    assert address(lead) == rules.Recipient(to=f"+{UNREADABLE}")


async def test_a_number_another_lead_has_is_left_for_a_human(bodies: Any, harness: Any) -> None:
    await harness.deliver(bodies.text("wamid.mine", "שלום", wa_id=OLD))
    other = bodies.text("wamid.other", "hi", wa_id=READABLE, user_id="IL.999")
    await harness.deliver(other)
    await harness.deliver(system_body(bodies, "wamid.change", wa_id=READABLE))

    lead = await harness.lead(bsuid=OLD_BSUID)

    assert lead is not None and len(await harness.leads()) == 2
    assert (lead.wa_id, lead.phone, lead.bsuid) == (OLD, f"+{OLD}", OLD_BSUID)


async def test_a_stranger_s_number_change_makes_a_lead_in_the_agency_s_language(
    bodies: Any, harness: Any
) -> None:
    """Meta's notice is English ("User Noa changed ..."): it says nothing of the lead's
    language, so the lead gets the default (Hebrew), not English."""
    await harness.deliver(system_body(bodies, "wamid.stranger", wa_id=READABLE))

    (row,) = await harness.leads()
    lead = await harness.lead(wa_id=READABLE)
    assert lead is not None and lead.id == row.id
    assert (lead.language, lead.source) == ("he", "whatsapp")
