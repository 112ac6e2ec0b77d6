"""Consent: the ledger of every opt-in and opt-out, the lawful basis for marketing, and the
do-not-contact list.

Every change of a lead's marketing consent goes through :func:`record`, whatever its
source (the lead's typed "הסר" or "STOP", WhatsApp's own Stop/Resume, a send Meta refused
with 131050, an agent, the API, an import, a web form), so the ledger
(``consent_events``) is the one history of it: its time, source, who recorded it and the
exact words the lead wrote or was shown, sealed under the lead's key (they are personal
data, and go with the lead's key on erasure).

Israeli law (Communications Law §30A) allows marketing only on a *basis*: an explicit
opt-in, or the inquiry exception for a person who gave their details while asking about a
property AND was told they can refuse. ``leads.marketing_basis`` holds it
(:class:`Basis`); a lead without one gets utility messages only
(:func:`ovenai.outbox.rules.check_category` refuses marketing at queue time and again at
send time). An opt-out always wins over a basis while it stands.

The do-not-contact list keeps, for an erased lead who had opted out, the blind index of
their phone and nothing else: the erasure destroys everything that could name them, yet a
lead later created or imported with that phone is opted out at once (source
``do_not_contact``), so they are never messaged again.

This module sits below :mod:`ovenai.leads` (which calls it); what needs the leads service
or the outbox lives above it: :mod:`ovenai.lead_consent` (the API's and the CLI's view and
changes) and :mod:`ovenai.consent_keywords` (typed opt-out/opt-in, the confirmation, Meta's
131050 and the §30A notice).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects
from ovenai.columns import new_id, utcnow
from ovenai.keystore import Vault
from ovenai.models import ConsentEvent, DoNotContact, Lead
from ovenai.sealing import CONSENT_EVENTS


class Kind(StrEnum):
    """What a ledger entry changed."""

    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"
    BASIS = "basis"  # the lawful basis set or cleared, consent otherwise unchanged


class Source(StrEnum):
    """Where a consent change came from."""

    WHATSAPP_KEYWORD = "whatsapp_keyword"  # the lead typed "הסר", "STOP", "התחל" ...
    WHATSAPP_PREFERENCES = "whatsapp_preferences"  # WhatsApp's own Stop/Resume (webhook)
    META_131050 = "meta_131050"  # Meta refused a marketing send: the user stopped them
    AGENT = "agent"
    API = "api"
    IMPORT = "import"
    WEB_FORM = "web_form"
    DO_NOT_CONTACT = "do_not_contact"  # the phone is on the do-not-contact list
    INQUIRY_NOTICE = "inquiry_notice"  # the lead inquired and was sent the refusal notice


AGREED_AGAIN = frozenset({Source.WHATSAPP_KEYWORD, Source.WHATSAPP_PREFERENCES, Source.AGENT})
"""Where an opt-in is the person's own word, given to a known lead: it takes the phone off
the do-not-contact list. A new lead's consent vouched for by an import or the API does not:
the list's opt-out stands over it."""


class Basis(StrEnum):
    """The lawful basis for marketing to a lead."""

    OPT_IN = "opt_in"  # the lead agreed explicitly (words recorded)
    INQUIRY_30A = "inquiry_30a"  # asked about a property and was told they can refuse


NOTICE_PHRASES = (
    "להסרה השיבו הסר",
    "להסרה השב הסר",
    "להסרה השיבי הסר",
    "להסרה כתבו הסר",
    "להסרה השיבו: הסר",
    "reply stop to unsubscribe",
    "reply stop to opt out",
    "to unsubscribe, reply stop",
    "to unsubscribe reply stop",
)
"""The refusal notice: a message we SENT to an inquiring lead that carries one of these
sentences (say, in the footer of the agency's welcome template) is the evidence that the lead
was told they can refuse, which §30A's inquiry exception needs (:func:`has_notice`)."""

INQUIRY_SOURCES = frozenset({"whatsapp", "web_form", "portal", "ad_referral"})
"""Lead sources that are an inquiry about a property: the §30A exception may apply to them;
a manual or imported lead needs its basis vouched for when it is created."""

LEAD_ACTOR = "lead via WhatsApp"
META_ACTOR = "Meta (Cloud API)"
SYSTEM_ACTOR = "system"
MAX_WORDS = 2000


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger entry as the API, the CLI and the lead page show it (words decrypted)."""

    at: datetime
    kind: str
    source: str
    actor: str
    words: str | None
    basis: str | None


@dataclass(frozen=True)
class ConsentState:
    """A lead's marketing consent now, and why: its state, basis and ledger (oldest first)."""

    lead_id: str
    opted_out: bool
    opted_out_at: datetime | None
    opted_in_at: datetime | None
    marketing_basis: str | None
    marketing_basis_at: datetime | None
    marketing_basis_source: str | None
    may_market: bool
    ledger: list[LedgerEntry]


def has_notice(text: str | None) -> bool:
    """Whether a text we sent carries the refusal notice (:data:`NOTICE_PHRASES`)."""
    if not text:
        return False
    folded = " ".join(text.casefold().split())
    return any(phrase in folded for phrase in NOTICE_PHRASES)


def may_market(lead: Lead) -> bool:
    """Whether marketing may go to this lead now: a basis and no standing opt-out."""
    return lead.marketing_basis is not None and lead.opted_out_at is None


async def record(
    session: AsyncSession,
    vault: Vault,
    lead: Lead,
    *,
    kind: Kind | str,
    source: Source,
    words: str | None = None,
    actor: str = SYSTEM_ACTOR,
    basis: Basis | None = None,
    at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> ConsentEvent:
    """Add a ledger entry for a loaded lead and change its state accordingly.

    ``words`` are what the lead wrote or was shown (sealed); ``details`` more evidence
    (Meta's fields, the message id). The state follows the NEWEST entry by ``at`` (Meta's
    own time for webhooks), so an event delivered late never undoes a later one; it is
    recorded all the same. An opt-in is an explicit agreement, so it sets the basis
    ``opt_in`` too; ``kind=BASIS`` sets ``basis`` (None clears it). A ``kind`` that is not
    a :class:`Kind` (a preference WhatsApp may add one day) is recorded and changes nothing.
    """
    at = at or utcnow()
    newest = await _newest_at(session, lead.id)
    row = ConsentEvent(
        id=new_id(),
        lead_id=lead.id,
        at=at,
        kind=str(kind)[:16],
        category="marketing",
        channel=source.value,
        actor_label=actor[:254],
    )
    evidence: dict[str, Any] = {"words": words[:MAX_WORDS] if words else words}
    if kind is Kind.OPT_IN:
        evidence["basis"] = (basis or Basis.OPT_IN).value
    elif kind is Kind.BASIS:
        evidence["basis"] = basis.value if basis else None
    evidence |= details or {}
    key = await vault.key("lead", lead.id)
    CONSENT_EVENTS.seal_into(row, key, {"evidence": orjson.dumps(evidence).decode()})
    session.add(row)
    if isinstance(kind, Kind) and (newest is None or at >= newest):
        _apply(lead, kind, source, basis, at)
        if kind is Kind.OPT_IN and source in AGREED_AGAIN and lead.phone_index is not None:
            # The person agreed again: an erased lead's opt-out no longer speaks for the
            # number (else each message they write would opt them out once more).
            await session.execute(
                delete(DoNotContact).where(DoNotContact.phone_index == lead.phone_index)
            )
    return row


async def _newest_at(session: AsyncSession, lead_id: str) -> datetime | None:
    await session.flush()  # entries added earlier in this transaction count
    query = select(func.max(ConsentEvent.at)).where(
        ConsentEvent.lead_id == lead_id, ConsentEvent.category == "marketing"
    )
    newest: datetime | None = await session.scalar(query)
    return newest


def _apply(lead: Lead, kind: Kind, source: Source, basis: Basis | None, at: datetime) -> None:
    if kind is Kind.OPT_OUT:
        lead.opted_out_at = lead.opted_out_at or at
        return
    if kind is Kind.OPT_IN:
        lead.opted_out_at = None
        lead.opted_in_at, lead.opt_in_source = at, source.value
        basis = basis or Basis.OPT_IN
    lead.marketing_basis = basis.value if basis else None
    lead.marketing_basis_at = at if basis else None
    lead.marketing_basis_source = source.value if basis else None


async def ledger(session: AsyncSession, vault: Vault, lead_id: str) -> list[LedgerEntry]:
    """A lead's ledger, oldest first, with its words decrypted."""
    query = select(ConsentEvent).where(ConsentEvent.lead_id == lead_id)
    rows = list(await session.scalars(query.order_by(ConsentEvent.at, ConsentEvent.id)))
    if not rows:
        return []
    key = await vault.key("lead", lead_id)
    entries = []
    for row in rows:
        opened = CONSENT_EVENTS.open_from(row, key, "evidence")
        evidence: dict[str, Any] = orjson.loads(opened) if opened else {}
        words = evidence.get("words")
        if words is None and "value" in evidence:  # WhatsApp's preference, before the ledger
            words = f"WhatsApp: {evidence['value']}"
        basis = evidence.get("basis")
        entries.append(
            LedgerEntry(
                at=row.at,
                kind=_kind_name(row.kind),
                source=_source_name(row.channel),
                actor=row.actor_label,
                words=words if isinstance(words, str) else None,
                basis=basis if isinstance(basis, str) else None,
            )
        )
    return entries


_OLD_KINDS = {"stop": Kind.OPT_OUT.value, "resume": Kind.OPT_IN.value}


def _kind_name(stored: str) -> str:
    """Entries WhatsApp's preferences wrote before the ledger said "stop"/"resume"."""
    return _OLD_KINDS.get(stored, stored)


def _source_name(stored: str) -> str:
    return Source.WHATSAPP_PREFERENCES.value if stored == "whatsapp_user_preferences" else stored


async def state_of(session: AsyncSession, vault: Vault, lead: Lead) -> ConsentState:
    """A loaded lead's consent state with its ledger."""
    return ConsentState(
        lead_id=lead.id,
        opted_out=lead.opted_out_at is not None,
        opted_out_at=lead.opted_out_at,
        opted_in_at=lead.opted_in_at,
        marketing_basis=lead.marketing_basis,
        marketing_basis_at=lead.marketing_basis_at,
        marketing_basis_source=lead.marketing_basis_source,
        may_market=may_market(lead),
        ledger=await ledger(session, vault, lead.id),
    )


# --- the do-not-contact list ------------------------------------------------------------


async def remember_do_not_contact(session: AsyncSession, lead_id: str) -> bool:
    """Before an erasure blanks the lead: put its phone's blind index on the list if it
    opted out (called in the erasure's transaction, with the lead marked). True if added."""
    row = (
        await session.execute(select(Lead.phone_index, Lead.opted_out_at).where(Lead.id == lead_id))
    ).one_or_none()
    if row is None or row.phone_index is None or row.opted_out_at is None:
        return False
    if await session.get(DoNotContact, row.phone_index) is None:
        session.add(DoNotContact(phone_index=row.phone_index, added_at=utcnow()))
    return True


async def on_do_not_contact(session: AsyncSession, phone_index: str | None) -> bool:
    """Whether a phone (by its blind index) is on the do-not-contact list."""
    if phone_index is None:
        return False
    return await session.get(DoNotContact, phone_index) is not None


async def listed_not_to_contact(
    session: AsyncSession, phone_indexes: Iterable[str | None]
) -> set[str]:
    """Which of these phones (by their blind indexes) are on the do-not-contact list: one
    query per 500."""
    wanted = sorted({index for index in phone_indexes if index is not None})
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        listed = dialects.one_of(session, DoNotContact.phone_index, chunk)
        query = select(DoNotContact.phone_index).where(listed)
        found.update(await session.scalars(query))
    return found


async def apply_do_not_contact(session: AsyncSession, vault: Vault, lead: Lead) -> bool:
    """Opt a new lead out at once when its phone is on the list (a ledger entry with source
    ``do_not_contact``); True if it was."""
    if not await on_do_not_contact(session, lead.phone_index):
        return False
    await record(
        session,
        vault,
        lead,
        kind=Kind.OPT_OUT,
        source=Source.DO_NOT_CONTACT,
        words=None,
        details={"reason": "the phone is on the do-not-contact list (an erased lead opted out)"},
    )
    return True
