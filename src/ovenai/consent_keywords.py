"""Consent from WhatsApp itself: a lead's typed opt-out or opt-in, and Meta's 131050.

A lead who writes "הסר", "הסירו אותי", "תפסיקו לשלוח", "STOP", "unsubscribe" ... is opted
out (the intents classifier decides, :data:`ovenai.intents.Intent.OPT_OUT`, whose traps
such as "אל תסירו אותי מהרשימה" or "stop by tomorrow" never count); "התחל", "START" alone
bring them back (``opt_in``). Each change goes to the consent ledger with the lead's exact
words (source ``whatsapp_keyword``) and ONE confirmation is queued through the outbox as
free text (the lead has just written, so their window is open), in the lead's language.
A lead who says "הסר" twice is confirmed once. Utility messages (a viewing's reminder)
still go: only marketing needs consent (:func:`ovenai.outbox.rules.check_category`).

A lead who inquired (from WhatsApp, a web form, a portal, an ad) and has no basis gets the
§30A inquiry basis once a message carrying the refusal notice
(:data:`ovenai.consent.NOTICE_PHRASES`, e.g. "להסרה השיבו הסר" in the welcome template's
footer) was SENT to them (Meta's ``sent``, ``delivered`` or ``read`` status): the ledger
keeps the text they were shown as the words (source ``inquiry_notice``).

A marketing send Meta refuses with 131050 (the user stopped marketing messages from this
business), on the spot or in a ``failed`` status webhook, records an opt-out too (source
``meta_131050``). A lead who writes in while their phone is on the do-not-contact list is
opted out at once.

The hooks (:mod:`ovenai.hooks`) run inside the transaction that stored the message or the
outcome, and :func:`install` puts the inbound one FIRST, so automation and the engagement
score see the lead already opted out (automation then answers nothing). Serve and the worker
call :func:`install` at start-up, as they do for automation.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import consent, hooks
from ovenai.columns import utcnow
from ovenai.events.enums import MessageType
from ovenai.intents import Intent, classify_content, default_classifier
from ovenai.keystore import Vault
from ovenai.leads import open_leads
from ovenai.models import Direction, Lead, Message, MessageStatus
from ovenai.outbox import queue, rules
from ovenai.sealing import MESSAGES

META_OPTED_OUT = 131050
"""Meta's code for a marketing send to a user who stopped marketing messages."""

CONFIRMATIONS = {
    (consent.Kind.OPT_OUT, "he"): (
        "הוסרת מרשימת הדיוור: לא נשלח אליך יותר הודעות שיווקיות. הודעות על צפייה שכבר "
        "נקבעה ימשיכו להגיע. כדי לחזור לרשימה, כתבו התחל."
    ),
    (consent.Kind.OPT_OUT, "en"): (
        "You are unsubscribed: we will send you no more marketing messages. Messages about "
        "a viewing already booked will still come. To come back, reply START."
    ),
    (consent.Kind.OPT_IN, "he"): (
        "חזרת לרשימת הדיוור ונעדכן אותך בנכסים חדשים. כדי להפסיק בכל עת, כתבו הסר."
    ),
    (consent.Kind.OPT_IN, "en"): (
        "You are back on our list and will hear about new properties. To stop at any "
        "time, reply STOP."
    ),
}
"""The one confirmation of a typed opt-out or opt-in, by the lead's language."""

_NOT_SAID = frozenset(
    {MessageType.SYSTEM, MessageType.REVOKE, MessageType.EDIT, MessageType.REQUEST_WELCOME}
)

# A batch reports only each message's newest status, so a read implies the notice arrived.
_REACHED = frozenset({MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ})

_vault: Vault | None = None


def install(vault: Vault) -> Vault | None:
    """Apply typed consent and Meta's 131050 in this process from now on; the inbound hook
    goes first, before automation's and the score's (idempotent). Returns the key store a
    previous install used, if any (tests put it back)."""
    global _vault
    previous, _vault = _vault, vault
    if consent_after_inbound in hooks.after_inbound:
        hooks.after_inbound.remove(consent_after_inbound)
    hooks.after_inbound.insert(0, consent_after_inbound)
    if consent_after_status not in hooks.after_status:
        hooks.after_status.append(consent_after_status)
    if consent_after_send_failed not in hooks.after_send_failed:
        hooks.after_send_failed.append(consent_after_send_failed)
    return previous


def uninstall() -> None:
    """Take the hooks out (a stopping process, tests)."""
    global _vault
    _vault = None
    while consent_after_inbound in hooks.after_inbound:
        hooks.after_inbound.remove(consent_after_inbound)
    while consent_after_status in hooks.after_status:
        hooks.after_status.remove(consent_after_status)
    while consent_after_send_failed in hooks.after_send_failed:
        hooks.after_send_failed.remove(consent_after_send_failed)


async def consent_after_inbound(session: AsyncSession, stored: Sequence[hooks.Arrival]) -> None:
    """The inbound hook: typed opt-outs and opt-ins (or phones on the do-not-contact list)."""
    if _vault is not None:
        await on_inbound(session, _vault, stored)


async def consent_after_status(
    session: AsyncSession, changes: Sequence[hooks.StatusChange]
) -> None:
    """The status hook: a ``failed`` status with 131050 opts the lead out; a message with the
    refusal notice that reached an inquiring lead gives the §30A basis."""
    if _vault is None:
        return
    failed = [
        hooks.SendFailure(change.message_id, change.error_code)
        for change in changes
        if change.status == MessageStatus.FAILED and change.error_code == META_OPTED_OUT
    ]
    await on_send_failures(session, _vault, failed)
    reached = [c.message_id for c in changes if c.status in _REACHED]
    await on_notice_sent(session, _vault, reached)


async def consent_after_send_failed(
    session: AsyncSession, failures: Sequence[hooks.SendFailure]
) -> None:
    """The outbox's hook: a send refused on the spot with 131050 opts the lead out."""
    if _vault is not None:
        await on_send_failures(session, _vault, failures)


async def on_inbound(
    session: AsyncSession, vault: Vault, stored: Sequence[hooks.Arrival]
) -> list[consent.Kind | None]:
    """Apply what each inbound message of a run says of consent, in order; the change each
    made, if any. The do-not-contact list is read once for the run."""
    listed = await consent.listed_not_to_contact(
        session, {a.lead.phone_index for a in stored if _said(a) and a.lead.opted_out_at is None}
    )
    return [
        await _apply_said(session, vault, arrival, listed) if _said(arrival) else None
        for arrival in stored
    ]


def _said(arrival: hooks.Arrival) -> bool:
    """Whether the message is the lead's own words (not an erased lead's, not a change of
    their number, an edit, a deletion or opening the chat)."""
    return arrival.lead.erased_at is None and arrival.event.type not in _NOT_SAID


async def _apply_said(
    session: AsyncSession, vault: Vault, arrival: hooks.Arrival, listed: set[str]
) -> consent.Kind | None:
    lead, message, event = arrival.lead, arrival.message, arrival.event
    if lead.opted_out_at is None and lead.phone_index in listed:
        await consent.apply_do_not_contact(session, vault, lead)
        return consent.Kind.OPT_OUT
    intent = classify_content(event.content, default_classifier(), language=lead.language)
    if intent.intent is Intent.OPT_OUT and lead.opted_out_at is None:
        kind = consent.Kind.OPT_OUT
    elif intent.intent is Intent.OPT_IN and (
        lead.opted_out_at is not None or lead.marketing_basis is None
    ):
        kind = consent.Kind.OPT_IN
    else:
        return None
    # Applied now, whatever Meta's (whole-second) timestamp says: the lead's latest word.
    await consent.record(
        session,
        vault,
        lead,
        kind=kind,
        source=consent.Source.WHATSAPP_KEYWORD,
        words=event.text,
        actor=consent.LEAD_ACTOR,
        at=utcnow(),
        details={"message_id": message.id, "written_at": event.timestamp.isoformat()},
    )
    await _confirm(session, vault, lead, kind, message.id)
    return kind


async def _confirm(
    session: AsyncSession, vault: Vault, lead: Lead, kind: consent.Kind, message_id: str
) -> None:
    """Queue the one confirmation (free text: the lead's window is open, they just wrote)."""
    await session.flush()
    (record,) = await open_leads(vault, [lead])
    text = CONFIRMATIONS[(kind, "en" if lead.language == "en" else "he")]
    try:
        await queue.enqueue_text(
            session, vault, lead=record, text=text, idempotency_key=f"consent:{message_id}"
        )
    except (rules.OutsideServiceWindow, rules.NoWhatsAppIdentity):
        return  # the change stands; only the confirmation cannot go


async def on_send_failures(
    session: AsyncSession, vault: Vault, failures: Sequence[hooks.SendFailure]
) -> int:
    """Opt out the leads whose marketing send Meta refused with 131050; how many."""
    ids = [f.message_id for f in failures if f.error_code == META_OPTED_OUT]
    if not ids:
        return 0
    query = select(Message.id, Message.template_name, Lead).join(Lead, Lead.id == Message.lead_id)
    rows = (await session.execute(query.where(Message.id.in_(ids)))).all()
    done = 0
    for message_id, template, lead in rows:
        if lead.erased_at is not None or lead.opted_out_at is not None:
            continue
        await consent.record(
            session,
            vault,
            lead,
            kind=consent.Kind.OPT_OUT,
            source=consent.Source.META_131050,
            words=None,
            actor=consent.META_ACTOR,
            details={
                "message_id": message_id,
                "template": template,
                "error_code": META_OPTED_OUT,
                "meaning": "the user stopped marketing messages from this business",
            },
        )
        done += 1
    return done


async def on_notice_sent(session: AsyncSession, vault: Vault, message_ids: Sequence[str]) -> int:
    """Give the §30A inquiry basis to the inquiring leads without one whose sent message
    carried the refusal notice; how many got it."""
    if not message_ids:
        return 0
    query = (
        select(Message, Lead)
        .join(Lead, Lead.id == Message.lead_id)
        .where(
            Message.id.in_(list(message_ids)),
            Message.direction == Direction.OUTBOUND,
            Lead.marketing_basis.is_(None),
            Lead.opted_out_at.is_(None),
            Lead.erased_at.is_(None),
            Lead.source.in_(consent.INQUIRY_SOURCES),
        )
    )
    done = 0
    for message, lead in (await session.execute(query)).all():
        if lead.marketing_basis is not None:  # two notices in one batch
            continue
        key = await vault.key("lead", lead.id)
        text = MESSAGES.open_from(message, key, "text")
        if not consent.has_notice(text):
            continue
        await consent.record(
            session,
            vault,
            lead,
            kind=consent.Kind.BASIS,
            source=consent.Source.INQUIRY_NOTICE,
            words=text,
            basis=consent.Basis.INQUIRY_30A,
            details={"message_id": message.id, "template": message.template_name},
        )
        done += 1
    return done
