"""A conversation as chat bubbles: what each message shows, the message a reply quotes,
its delivery tick, and a failure's advice.

The lead page draws the conversation as WhatsApp Web does, and polls it for changes. This
module turns the stored messages (:func:`ovenai.conversations.conversation`) into that view
once, for the dashboard and any API that wants the same: a reply's context wamid resolved to
the earlier message of this conversation it answers, the body a media message or a
template shows, the tick of an outbound message by its status, and Meta's failure explained
(:mod:`ovenai.failure_advice`). :func:`version` says cheaply (no decryption, nothing
audited) whether the conversation changed since a poll saw it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select

from ovenai import conversations, media
from ovenai.auth import Actor
from ovenai.conversations import MessageRecord
from ovenai.db import Database
from ovenai.failure_advice import Advice, advise
from ovenai.leads import load_visible
from ovenai.media import MediaRecord
from ovenai.models import MediaFile, Message, MessageStatus
from ovenai.quiet_hours import Hold, QuietHours

QUOTE_LENGTH = 120  # characters of the quoted message a reply shows
MEDIA = frozenset({"image", "video", "audio", "document", "sticker"})
# What ingestion stores as the text of a message with nothing to read ("[image]",
# "[voice message]"): the bubble shows the message's kind instead.
_PLACEHOLDER = re.compile(r"^\[[^\]]*\]$")


class Tick(StrEnum):
    """WhatsApp's marks of an outbound message: a clock, ✓, ✓✓, blue ✓✓, or a failure."""

    CLOCK = "clock"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


TICKS: dict[str, Tick] = {
    MessageStatus.QUEUED: Tick.CLOCK,
    MessageStatus.SENDING: Tick.CLOCK,
    MessageStatus.SENT: Tick.SENT,
    MessageStatus.DELIVERED: Tick.DELIVERED,
    MessageStatus.READ: Tick.READ,
    MessageStatus.FAILED: Tick.FAILED,
}


@dataclass(frozen=True)
class Quote:
    """The earlier message a reply answers; ``found`` is False when it is not in this
    conversation (older than retention, or sent from elsewhere)."""

    found: bool
    direction: str | None = None
    body: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class Bubble:
    """One message as a bubble.

    ``body`` is the text to show (a media message's caption, a template as the lead read
    it), None when there is none; ``kind`` is the message type to name beside it when the
    message is not plain text (media, a location, a button reply, a template not rendered).
    """

    id: str
    direction: str
    type: str
    body: str | None
    kind: str | None
    template: str | None
    status: str
    tick: Tick | None
    at: datetime
    status_at: datetime
    quote: Quote | None
    failure: Advice | None
    media: MediaRecord | None = None  # the file an inbound media message carries
    held: Hold | None = None  # marketing waiting out a quiet time: until when, and why


@dataclass(frozen=True)
class Conversation:
    """A lead's bubbles, oldest first, the :func:`version` they were drawn at, and the
    lead's files by message id (:func:`ovenai.media.of_lead`)."""

    bubbles: list[Bubble]
    version: str
    files: dict[str, MediaRecord] = dataclasses.field(default_factory=dict)


def _body(message: MessageRecord) -> tuple[str | None, str | None]:
    """(what the bubble reads, the kind it names) of one message."""
    text = message.text
    if text is not None and _PLACEHOLDER.match(text.strip()):
        text = None
    if message.type == "text":
        return text, None
    if message.type == "template":
        return (text, None) if text else (message.template, "template")
    return text, message.type


def _quote(message: MessageRecord, by_wamid: dict[str, MessageRecord]) -> Quote | None:
    if not message.context_wa_message_id:
        return None
    quoted = by_wamid.get(message.context_wa_message_id)
    if quoted is None:
        return Quote(found=False)
    body, kind = _body(quoted)
    if kind == "template":  # a template's name is not what the lead read: say "template"
        body = None
    if body is not None and len(body) > QUOTE_LENGTH:
        body = body[: QUOTE_LENGTH - 1].rstrip() + "…"
    return Quote(found=True, direction=quoted.direction, body=body, type=quoted.type)


def bubble_of(message: MessageRecord, by_wamid: dict[str, MessageRecord]) -> Bubble:
    """One message as a bubble; ``by_wamid`` holds the conversation's messages by wamid."""
    body, kind = _body(message)
    outbound = message.direction == "outbound"
    failure = None
    if message.status == MessageStatus.FAILED or message.error is not None:
        error = message.error
        failure = advise(error.code if error else None, error.title if error else None)
    return Bubble(
        id=message.id,
        direction=message.direction,
        type=message.type,
        body=body,
        kind=kind,
        template=message.template,
        status=message.status,
        tick=TICKS.get(message.status) if outbound else None,
        at=message.created_at,
        status_at=message.status_at,
        quote=_quote(message, by_wamid),
        failure=failure,
        held=message.held,
    )


def bubbles_of(messages: list[MessageRecord]) -> list[Bubble]:
    """The conversation's messages (oldest first) as bubbles, replies with their quotes."""
    by_wamid = {m.wa_message_id: m for m in messages if m.wa_message_id}
    return [bubble_of(message, by_wamid) for message in messages]


async def version(db: Database, *, actor: Actor, lead_id: str) -> str:
    """A short fingerprint of the conversation's state: it changes when a message arrives
    or a status moves. Reads no personal data, so polling it is not audited; NotFound or
    Gone as for reading the lead."""
    async with db.reading() as session:
        await load_visible(session, actor, lead_id)
        query = select(
            func.count(Message.id), func.max(Message.created_at), func.max(Message.status_at)
        ).where(Message.lead_id == lead_id)
        count, created, moved = (await session.execute(query)).one()
        files = select(func.count(MediaFile.id), func.max(MediaFile.updated_at))
        kept, fetched = (await session.execute(files.where(MediaFile.lead_id == lead_id))).one()
    raw = f"{count}|{created}|{moved}|{kept}|{fetched}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


async def conversation(
    db: Database, *, actor: Actor, lead_id: str, quiet: QuietHours | None = None
) -> Conversation:
    """The lead's conversation as bubbles (read and audited as
    :func:`ovenai.conversations.conversation`), with its version; ``quiet``: marketing
    held by quiet times says until when."""
    stamp = await version(db, actor=actor, lead_id=lead_id)
    messages = await conversations.conversation(db, actor=actor, lead_id=lead_id, quiet=quiet)
    drawn = bubbles_of(messages)
    files = await media.of_lead(db, lead_id)
    if files:  # each media message shows its file: thumbnail, download, or why not
        drawn = [dataclasses.replace(b, media=files.get(b.id)) for b in drawn]
    return Conversation(drawn, stamp, files)
