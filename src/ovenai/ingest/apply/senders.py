"""Who wrote to us: a WhatsApp user identity matched to a lead, or made into one.

Matching order: BSUID, then ``wa_id``, then the phone number behind the ``wa_id``; all
through blind indexes, so nothing is decrypted to find a lead. An identifier is written
onto a lead only when no other lead holds it (the indexes are unique); a clash is left
for a human, never resolved by moving identifiers between people.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import phones
from ovenai.columns import new_id
from ovenai.events import AdReferral, UserIdentity
from ovenai.keystore import Vault
from ovenai.leads import find_by_identity, seal_identity, set_name_tokens
from ovenai.models import Language, Lead, Source
from ovenai.sealing import LEADS, LeadColumn

log = logging.getLogger("ovenai.ingest.apply.senders")

_HEBREW = re.compile("[\u0590-\u05ff]")
_LATIN = re.compile("[A-Za-z]")
INDEXED = ("bsuid", "wa_id", "phone")


def guess_language(text: str | None) -> str:
    """Hebrew script → ``he``; Latin letters → ``en``; anything else → ``he`` (the default)."""
    if text and _HEBREW.search(text):
        return Language.HE
    if text and _LATIN.search(text):
        return Language.EN
    return Language.HE


def identifiers(identity: UserIdentity) -> dict[LeadColumn, str | None]:
    """The indexed identifiers of a sender: BSUID, wa_id and the E.164 phone behind it."""
    phone = phones.from_wa_id(identity.wa_id) if identity.wa_id else None
    return {"bsuid": identity.user_id, "wa_id": identity.wa_id, "phone": phone}


@dataclass(frozen=True, slots=True)
class FirstContact:
    """What a new lead learns from its first message."""

    at: datetime
    text: str | None = None
    referral: AdReferral | None = None


async def find_sender(session: AsyncSession, vault: Vault, identity: UserIdentity) -> Lead | None:
    """The lead behind a sender, by BSUID, then wa_id, then phone."""
    found = identifiers(identity)
    return await find_by_identity(
        session, vault, bsuid=found["bsuid"], wa_id=found["wa_id"], phone=found["phone"]
    )


async def lead_for_sender(
    session: AsyncSession, vault: Vault, identity: UserIdentity, first: FirstContact
) -> Lead:
    """The sender's lead, its identity refreshed; a new WhatsApp (or ad) lead if unknown."""
    lead = await find_sender(session, vault, identity)
    if lead is None:
        return await create_sender_lead(session, vault, identity, first)
    await refresh_identity(session, vault, lead, identity)
    return lead


async def create_sender_lead(
    session: AsyncSession, vault: Vault, identity: UserIdentity, first: FirstContact
) -> Lead:
    """Create the lead of a first-time sender (source, name and language from the message)."""
    source = Source.AD_REFERRAL if first.referral is not None else Source.WHATSAPP
    lead = Lead(id=new_id(), source=source, language=guess_language(first.text))
    key = await vault.new_lead_key(lead.id)
    session.add(lead)
    values: dict[LeadColumn, str | None] = {k: v for k, v in identifiers(identity).items() if v}
    values |= {"name": identity.profile_name, "profile_name": identity.profile_name}
    values["username"] = identity.username
    seal_identity(vault, lead, key, values)
    await session.flush()
    await set_name_tokens(session, vault, lead.id, identity.profile_name)
    return lead


async def refresh_identity(
    session: AsyncSession, vault: Vault, lead: Lead, identity: UserIdentity
) -> None:
    """Write the sender's newer identifiers and profile onto the lead (never clears one)."""
    wanted = identifiers(identity)
    if _left_number(vault, lead, identity):
        # A message from the number the lead left (delivered late): its BSUID is the old
        # number's, and a BSUID comes first when sending (outbox.rules.recipient_of).
        wanted["bsuid"] = None
    changed = await _free_changes(session, vault, lead, wanted)
    key = await vault.key("lead", lead.id)
    for name in ("username", "profile_name"):
        value = getattr(identity, name)
        if value and LEADS.open_from(lead, key, name) != value:
            changed[name] = value
    if lead.name_enc is None and identity.profile_name:
        changed["name"] = identity.profile_name
        await set_name_tokens(session, vault, lead.id, identity.profile_name)
    if changed:
        seal_identity(vault, lead, key, changed)


def _left_number(vault: Vault, lead: Lead, identity: UserIdentity) -> bool:
    """Whether the sender writes from another number than the lead's current wa_id."""
    if identity.wa_id is None or lead.wa_id_index is None:
        return False
    return vault.index("wa_id", identity.wa_id) != lead.wa_id_index


async def change_number(session: AsyncSession, vault: Vault, lead: Lead, wa_id: str) -> bool:
    """Move the lead to the number a ``system`` message names; False if it is not moved.

    Replies go to the new wa_id whether or not it parses as a phone number. The phone
    follows when it does; when it does not, the phone stays for the agent to see (the old
    number may still take calls) but is never written to again: the wa_id comes before it
    (outbox.rules.recipient_of). The old number's BSUID is dropped, as Meta gives a user a
    new BSUID with a new number (Cloud API › Business-scoped user IDs) and a BSUID comes
    first; the new one comes with the system message or with the user's next message.
    """
    index = vault.index("wa_id", wa_id)
    if lead.wa_id_index == index:  # already moved: the change was announced twice
        return False
    if await _held_by_other(session, "wa_id", index, lead.id):
        log.warning("lead %s: a wa_id clashes with another lead; left unchanged", lead.id)
        return False
    wanted: dict[LeadColumn, str | None] = {"phone": phones.from_wa_id(wa_id)}
    changes = await _free_changes(session, vault, lead, wanted, replace=True)
    changes |= {"wa_id": wa_id, "bsuid": None}
    seal_identity(vault, lead, await vault.key("lead", lead.id), changes)
    return True


async def change_bsuid(session: AsyncSession, vault: Vault, lead: Lead, bsuid: str) -> bool:
    """Replace the lead's BSUID after a ``system`` message; False if another lead has it."""
    changes = await _free_changes(session, vault, lead, {"bsuid": bsuid}, replace=True)
    if not changes:
        return False
    seal_identity(vault, lead, await vault.key("lead", lead.id), changes)
    return True


async def _free_changes(
    session: AsyncSession,
    vault: Vault,
    lead: Lead,
    wanted: dict[LeadColumn, str | None],
    *,
    replace: bool = False,
) -> dict[LeadColumn, str | None]:
    """The identifiers that differ from the lead's and that no other lead holds.

    Without ``replace`` only missing identifiers are filled (a lead found by phone gains its
    wa_id and BSUID); with it, present ones are replaced too (the user changed number).
    """
    changes: dict[LeadColumn, str | None] = {}
    for kind, value in wanted.items():
        if not value:
            continue
        index = vault.index(kind, value)
        current = getattr(lead, f"{kind}_index")
        if current == index or (current is not None and not replace):
            continue
        if await _held_by_other(session, kind, index, lead.id):
            log.warning("lead %s: a %s clashes with another lead; left unchanged", lead.id, kind)
            continue
        changes[kind] = value
    return changes


async def _held_by_other(session: AsyncSession, kind: str, index: str, lead_id: str) -> bool:
    column = getattr(Lead, f"{kind}_index")
    query = select(func.count()).where(column == index, Lead.id != lead_id)
    return bool(await session.scalar(query))
