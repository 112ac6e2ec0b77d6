"""What the lead page shows beside its composer: the conversation as bubbles (with each
failure's advice in the page's language), the lead's viewings and the listings a lead may be
interested in (the criteria form's choice).

:func:`ovenai.web.dashboard.composer.lead_page` adds :func:`page_context` to its page; the
conversation fragment the page polls (:mod:`ovenai.web.dashboard.lead_page`) renders with
:func:`conversation_context` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request

from ovenai import bubbles, document_checklist, leads, media, meetings, properties
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.failure_advice import AdviceKind
from ovenai.models import MediaState, MeetingStatus
from ovenai.web import i18n
from ovenai.web.deps import get_settings
from ovenai.web.i18n import N_

MEETINGS_SHOWN = meetings.MeetingFilter(limit=50)  # a lead's newest viewings on its page
PROPERTIES_OFFERED = 200  # listings the criteria form offers (newest first)
POLL_SECONDS = 2  # how long the page waits to ask again after a failed question
WAIT_SECONDS = 25  # how long the server holds a question until the conversation changes

# Each failure kind's reason and next step, as the page says them (ovenai.failure_advice
# has the same sentences in English for the API).
ADVICE: dict[AdviceKind, tuple[str, str]] = {
    AdviceKind.WINDOW_CLOSED: (
        N_(
            "More than 24 hours have passed since the lead last wrote, so WhatsApp refuses"
            " free text."
        ),
        N_("Send an approved template instead; free text is possible again once the lead replies."),
    ),
    AdviceKind.UNDELIVERABLE: (
        N_("WhatsApp could not deliver the message to this number."),
        N_(
            "Check the phone number; the lead may not have WhatsApp, or may have an old app"
            " version."
        ),
    ),
    AdviceKind.STOPPED_MARKETING: (
        N_("The lead stopped marketing messages from the agency in WhatsApp."),
        N_("Send only utility templates, or talk to the lead in another way."),
    ),
    AdviceKind.ECOSYSTEM_LIMIT: (
        N_(
            "WhatsApp held the message back to keep the lead from getting too many marketing"
            " messages."
        ),
        N_("Try again later, in a day or more, or wait for the lead to write."),
    ),
    AdviceKind.RATE_LIMITED: (
        N_("Too many messages were sent too quickly."),
        N_("Nothing to do: the message is sent again by itself shortly."),
    ),
    AdviceKind.TEMPLATE_PROBLEM: (
        N_(
            "WhatsApp refused the template: it is missing, paused, not approved, or its"
            " parameters do not fit."
        ),
        N_("Check the template and its parameters, then send again."),
    ),
}
UNKNOWN_FAILURE = N_("WhatsApp did not deliver the message (error %(code)s).")
UNKNOWN_ACTION = N_("Look the error up in the alerts or ask an admin.")

# A viewing's state in words (the lead page's list of viewings).
MEETING_STATES = {
    MeetingStatus.PROPOSED: N_("Awaiting confirmation"),
    MeetingStatus.CONFIRMED: N_("Confirmed viewing"),
    MeetingStatus.DONE: N_("Viewing took place"),
    MeetingStatus.CANCELLED: N_("Viewing cancelled"),
    MeetingStatus.NO_SHOW: N_("The lead did not come"),
}


@dataclass(frozen=True)
class Viewing:
    """One of the lead's viewings as the page lists it."""

    id: str
    starts_at: datetime
    duration_minutes: int
    status: str
    place: str | None


def conversation_context(request: Request, conversation: bubbles.Conversation) -> dict[str, Any]:
    """What the bubbles need: the conversation and its failures' words in this language."""
    words = i18n.translator(request)
    advice = {kind: (words.gettext(a), words.gettext(b)) for kind, (a, b) in ADVICE.items()}
    return {
        "conversation": conversation,
        "advice": advice,
        "unknown_failure": lambda code: words.gettext(UNKNOWN_FAILURE, code=code or "?"),
        "unknown_action": words.gettext(UNKNOWN_ACTION),
        "poll_seconds": POLL_SECONDS,
        "wait_seconds": WAIT_SECONDS,
    }


def _place(listing: object) -> str:
    title = getattr(listing, "title", "") or ""
    city = getattr(listing, "city", "") or ""
    return " · ".join(part for part in (title, city) if part)


async def page_context(
    request: Request,
    db: Database,
    actor: Actor,
    lead: leads.LeadRecord,
    conversation: bubbles.Conversation,
) -> dict[str, object]:
    """The lead page's bubbles, viewings (soonest first) and the listings to choose from."""
    listed = await properties.list_properties(
        db, filters=properties.PropertyFilter(limit=PROPERTIES_OFFERED)
    )
    places = {listing.id: _place(listing) for listing in listed.items}
    found = await meetings.list_meetings(
        db, actor=actor, filters=MEETINGS_SHOWN.model_copy(update={"lead_id": lead.id})
    )
    viewings = sorted(
        (
            Viewing(
                m.id,
                m.starts_at,
                m.duration_minutes,
                m.status,
                places.get(m.property_id) if m.property_id else None,
            )
            for m in found.items
        ),
        key=lambda viewing: viewing.starts_at,
    )
    words = i18n.translator(request)
    return {
        **conversation_context(request, conversation),
        "viewings": viewings,
        "meeting_states": {key: words.gettext(value) for key, value in MEETING_STATES.items()},
        "listings": sorted(places.items(), key=lambda item: item[1]),
        **await _documents(request, db, actor, lead, conversation.files),
    }


async def _documents(
    request: Request,
    db: Database,
    actor: Actor,
    lead: leads.LeadRecord,
    files: dict[str, media.MediaRecord],
) -> dict[str, object]:
    """The lead's document checklist, the agency's documents to tick, the files to mark
    (``files``: the lead's, read with its conversation)."""
    settings = get_settings(request)
    listed = settings.documents_en if lead.language == "en" else settings.documents_he
    return {
        "lead_documents": await document_checklist.checklist(db, actor=actor, lead_id=lead.id),
        "document_choices": document_checklist.items(listed),
        "lead_files": sorted(
            (record for record in files.values() if record.state == MediaState.STORED),
            key=lambda record: record.received_at,
        ),
    }
