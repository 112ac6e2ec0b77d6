"""WhatsApp's own marketing opt-out: ``user_preferences`` stop / resume.

Every preference is recorded as a :class:`ConsentEvent` with its evidence (sealed under the
lead's key). The lead's consent state follows the NEWEST preference by Meta's timestamp,
so a ``stop`` delivered late never undoes a later ``resume`` (and the other way round).
A preference from a user we do not know yet makes a lead: an opt-out must never be lost.
"""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai.columns import new_id
from ovenai.events import UserPreference
from ovenai.events.enums import MarketingPreference
from ovenai.ingest.apply.senders import FirstContact, lead_for_sender
from ovenai.keystore import Vault
from ovenai.models import ConsentEvent, Lead
from ovenai.sealing import CONSENT_EVENTS

CHANNEL = "whatsapp_user_preferences"
ACTOR = "lead via WhatsApp"
_KINDS = {MarketingPreference.STOP: "stop", MarketingPreference.RESUME: "resume"}


async def apply_preference(session: AsyncSession, vault: Vault, event: UserPreference) -> Lead:
    """Record a stop/resume for the user's lead and update its marketing consent."""
    lead = await lead_for_sender(session, vault, event.user, FirstContact(at=event.timestamp))
    kind = _KINDS.get(event.value, event.value_raw[:16] or "unknown")
    newest = await _newest_at(session, lead.id)
    session.add(await _consent_event(vault, lead.id, kind, event))
    if newest is None or event.timestamp >= newest:
        _set_state(lead, event.value, event.timestamp)
    return lead


async def _newest_at(session: AsyncSession, lead_id: str) -> datetime | None:
    query = select(func.max(ConsentEvent.at)).where(
        ConsentEvent.lead_id == lead_id, ConsentEvent.category == "marketing"
    )
    newest: datetime | None = await session.scalar(query)
    return newest


def _set_state(lead: Lead, value: MarketingPreference, at: datetime) -> None:
    if value is MarketingPreference.STOP:
        lead.opted_out_at = at
    elif value in (MarketingPreference.RESUME, MarketingPreference.SIGNUP):
        lead.opted_out_at = None
        lead.opted_in_at = at
        lead.opt_in_source = CHANNEL[:64]


async def _consent_event(
    vault: Vault, lead_id: str, kind: str, event: UserPreference
) -> ConsentEvent:
    row = ConsentEvent(
        id=new_id(),
        lead_id=lead_id,
        at=event.timestamp,
        kind=kind,
        category="marketing",
        channel=CHANNEL,
        actor_label=ACTOR,
    )
    evidence = {
        "source": "whatsapp user_preferences webhook",
        "meta_category": event.category,
        "value": event.value_raw,
        "detail": event.detail,
        "timestamp": event.timestamp.isoformat(),
        "phone_number_id": event.phone_number_id,
    }
    key = await vault.key("lead", lead_id)
    CONSENT_EVENTS.seal_into(row, key, {"evidence": orjson.dumps(evidence).decode()})
    return row
