"""WhatsApp's own marketing opt-out: ``user_preferences`` stop / resume.

Every preference goes to the consent ledger (:func:`ovenai.consent.record`, source
``whatsapp_preferences``) with its evidence, sealed under the lead's key. The lead's consent
state follows the NEWEST ledger entry by Meta's timestamp, so a ``stop`` delivered late never
undoes a later ``resume`` (and the other way round). A preference from a user we do not know
yet makes a lead: an opt-out must never be lost.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import consent
from ovenai.events import UserPreference
from ovenai.events.enums import MarketingPreference
from ovenai.ingest.apply.senders import FirstContact, lead_for_sender
from ovenai.keystore import Vault
from ovenai.models import Lead

CHANNEL = consent.Source.WHATSAPP_PREFERENCES.value
ACTOR = consent.LEAD_ACTOR
_KINDS = {
    MarketingPreference.STOP: consent.Kind.OPT_OUT,
    MarketingPreference.RESUME: consent.Kind.OPT_IN,
    MarketingPreference.SIGNUP: consent.Kind.OPT_IN,
}


async def apply_preference(session: AsyncSession, vault: Vault, event: UserPreference) -> Lead:
    """Record a stop/resume for the user's lead and update its marketing consent."""
    lead = await lead_for_sender(session, vault, event.user, FirstContact(at=event.timestamp))
    kind = _KINDS.get(event.value)
    evidence = {
        "source": "whatsapp user_preferences webhook",
        "meta_category": event.category,
        "value": event.value_raw,
        "detail": event.detail,
        "timestamp": event.timestamp.isoformat(),
        "phone_number_id": event.phone_number_id,
    }
    await consent.record(
        session,
        vault,
        lead,
        kind=kind or event.value_raw[:16] or "unknown",  # unknown: kept, changes nothing
        source=consent.Source.WHATSAPP_PREFERENCES,
        words=f"WhatsApp: {event.value_raw}",
        actor=ACTOR,
        at=event.timestamp,
        details=evidence,
    )
    return lead
