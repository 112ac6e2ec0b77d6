"""Intents of what is not typed text: taps on buttons and list rows, captions, media.

A button says what it means by the payload (template quick replies) or id (interactive
reply buttons, list rows) that *we* set when sending it, so a known payload is read
exactly: :class:`ReplyButton` names ours, and ``intent:<intent>`` (optionally followed by
``:<anything>``, e.g. a meeting id) names an intent directly. The seed templates carry no
buttons, so anything else (a template from Meta's library, Meta's own "Stop promotions"
quick reply, a payload left to default to the button's text) is read from the button's
title with the text classifier, like a message the lead typed.
"""

from __future__ import annotations

from enum import StrEnum

from ovenai.events.content import (
    InteractiveReplyContent,
    MediaContent,
    MessageContent,
    TemplateButtonContent,
    TextContent,
)
from ovenai.events.enums import InteractiveReplyType
from ovenai.intents.base import Classification, Evidence, Intent, IntentClassifier

_TAPS = (InteractiveReplyType.BUTTON_REPLY, InteractiveReplyType.LIST_REPLY)

INTENT_PAYLOAD = "intent"
"""``intent:wants_call`` (or ``intent:wants_call:<ref>``) names the intent itself."""


class ReplyButton(StrEnum):
    """Payloads and ids of the buttons OvenAI sends; ``<payload>:<ref>`` carries a reference."""

    VIEWING_CONFIRM = "viewing_confirm"
    VIEWING_RESCHEDULE = "viewing_reschedule"
    VIEWING_CANCEL = "viewing_cancel"
    CALL_ME = "call_me"
    DETAILS = "details"
    NOT_INTERESTED = "not_interested"
    STOP = "stop"


BUTTON_INTENTS: dict[ReplyButton, Intent] = {
    ReplyButton.VIEWING_CONFIRM: Intent.WANTS_VIEWING,
    ReplyButton.VIEWING_RESCHEDULE: Intent.WANTS_VIEWING,
    # Cancelling one viewing is not "not interested"; the meeting flow acts on the payload.
    ReplyButton.VIEWING_CANCEL: Intent.OTHER,
    ReplyButton.CALL_ME: Intent.WANTS_CALL,
    ReplyButton.DETAILS: Intent.ASKS_PRICE,
    ReplyButton.NOT_INTERESTED: Intent.NOT_INTERESTED,
    ReplyButton.STOP: Intent.OPT_OUT,
}


def _known(payload: str) -> tuple[Intent, str] | None:
    """The intent a payload of ours names, and how it named it; None for a foreign one."""
    parts = payload.strip().casefold().replace("-", "_").split(":")
    head = parts[0].strip().replace(" ", "_")
    if head == INTENT_PAYLOAD and len(parts) > 1 and parts[1].strip() in set(Intent):
        return Intent(parts[1].strip()), f"payload {INTENT_PAYLOAD}:{parts[1].strip()}"
    if head in set(ReplyButton):
        return BUTTON_INTENTS[ReplyButton(head)], f"button {head}"
    return None


def classify_reply(
    payload: str | None,
    title: str | None,
    classifier: IntentClassifier,
    *,
    language: str | None = None,
) -> Classification:
    """Classify a tapped button or list row by its payload/id, else by its title."""
    known = _known(payload) if payload else None
    if known is not None:
        intent, how = known
        evidence = Evidence(intent, "a button we sent", how, 1.0)
        return Classification(intent, 1.0, (evidence,), classifier="button")
    text = (title or payload or "").strip()
    if not text:
        return Classification(Intent.OTHER, 0.5, note="a button without payload or title")
    read = classifier.classify(text, language=language)
    return Classification(
        read.intent,
        read.confidence,
        read.evidence,
        note=f"read from the button's title{', ' + read.note if read.note else ''}",
        classifier=read.classifier,
    )


def classify_content(
    content: MessageContent, classifier: IntentClassifier, *, language: str | None = None
) -> Classification:
    """The intent of one inbound message's content, whatever its kind."""
    if isinstance(content, TextContent):
        return classifier.classify(content.body, language=language)
    if isinstance(content, TemplateButtonContent):
        return classify_reply(content.payload, content.text, classifier, language=language)
    if isinstance(content, InteractiveReplyContent):
        if content.reply_type in _TAPS:
            return classify_reply(content.reply_id, content.title, classifier, language=language)
        return Classification(Intent.OTHER, 0.5, note=f"a {content.reply_type_raw} reply")
    if isinstance(content, MediaContent) and content.caption:
        return classifier.classify(content.caption, language=language)
    kind = content.media_kind if isinstance(content, MediaContent) else type(content).__name__
    return Classification(Intent.OTHER, 0.5, note=f"no text to read ({kind})")
