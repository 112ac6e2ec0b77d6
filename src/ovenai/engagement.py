"""The engagement score: how warm a lead is, 0 to 100, and why.

A lead's score (``leads.engagement_score``) changes only together with a row of
``score_changes`` (:class:`ovenai.models.ScoreChange`) naming the reason, the change applied
and the score after it. The score is clamped to 0–100 and the stored change is what was
actually applied, so a lead's changes always add up to its score: a reply at 100 is stored
as +0, not-interested at 20 as −20. What earns or costs points is :data:`POINTS`:

- a message from the lead (:func:`on_inbound`, a hook of webhook ingestion): a reply counts
  at most once an hour (:data:`REPLY_EVERY`, by the messages' own times), a tap on a button
  or list row every time; then what the message asks for, read by :mod:`ovenai.intents`
  (a viewing, the price or details, a call). A message saying the lead is not interested
  costs its points instead of earning the reply's, and an opt-out sets the score to 0.
- a read of one of our messages (:func:`on_status`, a hook too), once per message;
- a viewing booked (:func:`viewing_booked`, called by :mod:`ovenai.meetings` when a meeting
  is created or becomes confirmed, or is recorded as done), once per meeting;
- silence (:func:`decay`, the daily job ``engagement.decay``): 5 points for each full week
  since the lead's last inbound message (or since they became a lead, if they never wrote),
  counting only weeks that ended after the lead's latest other change, so a week passed at
  0 is not charged after a booking raises the score again;
- a score written by an agent, the API or an import (``set``, recorded by
  :mod:`ovenai.leads`).

:func:`install` registers the two hooks with :mod:`ovenai.hooks` (once; :func:`uninstall`
takes them out); importing this module registers the daily job with :mod:`ovenai.scheduler`
(the worker runs it once it imports this module). Changes carry no personal data:
``source`` is a message, meeting or user id, or the week of silence.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Final, cast

from sqlalchemy import Table, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ovenai import bulk_sql, dialects, hooks, scheduler
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.errors import InvalidInput
from ovenai.events.content import InteractiveReplyContent, MessageContent, TemplateButtonContent
from ovenai.events.enums import InteractiveReplyType, MessageType
from ovenai.intents import Intent, classify_content, default_classifier
from ovenai.leads import load_visible
from ovenai.models import (
    Lead,
    Meeting,
    MeetingStatus,
    Message,
    MessageStatus,
    ScoreChange,
    ScoreReason,
)
from ovenai.pagination import PageQuery, decode_cursor, page_of

log = logging.getLogger("ovenai.engagement")

LOWEST: Final = 0
HIGHEST: Final = 100

POINTS: Final[Mapping[ScoreReason, int]] = MappingProxyType(
    {
        ScoreReason.REPLIED: 10,  # a message from the lead, at most one an hour
        ScoreReason.BUTTON: 8,  # a tap on a reply button or list row we sent
        ScoreReason.READ: 2,  # one of our messages read, once per message
        ScoreReason.WANTS_VIEWING: 15,
        ScoreReason.ASKS_PRICE: 10,  # the price or any other detail
        ScoreReason.WANTS_CALL: 10,
        ScoreReason.BOOKED: 20,  # a viewing booked, once per meeting
        ScoreReason.NOT_INTERESTED: -30,
        ScoreReason.SILENCE: -5,  # each full week without an inbound message
    }
)
"""Points of each reason, before clamping to 0–100. Not here: ``opted_out`` sets the score
to 0, and ``set`` to the value an agent wrote."""

REPLY_EVERY: Final = timedelta(hours=1)
"""A burst of messages is one reply: another counts only an hour after the last one that did
(by the times the lead wrote them), so writing a lot does not outweigh asking for a viewing."""

SILENT_WEEK: Final = timedelta(days=7)

INTENT_REASONS: Final[Mapping[Intent, ScoreReason]] = MappingProxyType(
    {
        Intent.WANTS_VIEWING: ScoreReason.WANTS_VIEWING,
        Intent.ASKS_PRICE: ScoreReason.ASKS_PRICE,
        Intent.WANTS_CALL: ScoreReason.WANTS_CALL,
        Intent.NOT_INTERESTED: ScoreReason.NOT_INTERESTED,
    }
)

# What a lead sends that says nothing to us: a change of their number or id, a deleted or
# edited message (the message itself counted already), and opening the chat without writing.
_NOT_SAID = frozenset(
    {MessageType.SYSTEM, MessageType.REVOKE, MessageType.EDIT, MessageType.REQUEST_WELCOME}
)
_TAPS = frozenset({InteractiveReplyType.BUTTON_REPLY, InteractiveReplyType.LIST_REPLY})
_BOOKED = frozenset({MeetingStatus.CONFIRMED, MeetingStatus.DONE})
_CHUNK = 500  # ids per IN list, and leads per decay transaction
_SCORE_CHANGES = cast(Table, ScoreChange.__table__)
_LEADS = cast(Table, Lead.__table__)
_TICK = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ScoreChangeRecord:
    """One change of a lead's score, as the lead page, the API and the CLI show it."""

    at: datetime
    delta: int
    score: int
    reason: str
    source: str


@dataclass(frozen=True)
class ScoreHistory:
    """A lead's score and its changes, newest first (one page of them)."""

    score: int
    changes: list[ScoreChangeRecord]
    next_cursor: str | None


def install() -> None:
    """Register the score's hooks with webhook ingestion; calling again adds nothing."""
    if on_inbound not in hooks.after_inbound:
        hooks.after_inbound.append(on_inbound)
    if on_status not in hooks.after_status:
        hooks.after_status.append(on_status)


def uninstall() -> None:
    """Take the score's hooks out of webhook ingestion (a stopping server or worker)."""
    while on_inbound in hooks.after_inbound:
        hooks.after_inbound.remove(on_inbound)
    while on_status in hooks.after_status:
        hooks.after_status.remove(on_status)


def _apply(
    session: AsyncSession,
    lead: Lead,
    reason: ScoreReason,
    source: str,
    *,
    points: int | None = None,
    to: int | None = None,
    at: datetime | None = None,
) -> dict[str, object]:
    """Move a loaded lead's score by the reason's points (or ``points``, or ``to`` a value),
    clamped: the row of the change applied, for :func:`_record` to insert.

    A lead's changes are ordered by ``at`` (microseconds), so two changes of one lead in a
    transaction are kept a microsecond apart at least, even under a clock that stands still.
    """
    before = lead.engagement_score
    after = before + (POINTS[reason] if points is None else points) if to is None else to
    after = max(LOWEST, min(HIGHEST, after))
    at = at or utcnow()
    latest: dict[str, datetime] = session.info.setdefault("engagement_latest_at", {})
    if lead.id in latest and at <= latest[lead.id]:
        at = latest[lead.id] + _TICK
    latest[lead.id] = at
    # Written by :func:`_record` with the change rows, one statement for every lead of the
    # batch: an attribute set through the ORM became a flush of its own, an executemany.
    set_committed_value(lead, "engagement_score", after)
    return {
        "id": new_id(),
        "lead_id": lead.id,
        "at": at,
        "delta": after - before,
        "score": after,
        "reason": reason,
        "source": source[:80],
    }


async def _record(session: AsyncSession, changes: list[dict[str, object]]) -> None:
    """Insert the changes of :func:`_apply` with one statement (a row object each, through
    the session's unit of work, was a third of the inbound hooks' time; an executemany, a
    statement a row, still 12 % of the processor's CPU on PostgreSQL), then each lead's new
    score with one more: the last change of a lead carries its score.

    :func:`_apply` set the scores on the loaded rows as committed, so the ORM does not write
    them again; should the transaction or its savepoint roll back, the inbound hooks read
    their rows afresh (``hooks.reload``), and every other caller ends with the rollback."""
    if not changes:
        return
    await bulk_sql.insert_many(session, _SCORE_CHANGES, changes, skip_taken=False)
    now = utcnow()
    scores = {str(change["lead_id"]): change["score"] for change in changes}
    rows = [
        {"id": lead_id, "engagement_score": score, "updated_at": now}
        for lead_id, score in sorted(scores.items())
    ]
    await bulk_sql.update_many(session, _LEADS, rows)


async def on_inbound(session: AsyncSession, stored: Sequence[hooks.Arrival]) -> None:
    """Score the messages of a run from leads, in order (the inbound hook; see the module
    docstring). The reply that last counted is read once for all the run's leads."""
    said = [a for a in stored if a.lead.erased_at is None and a.event.type not in _NOT_SAID]
    if not said:
        return
    last_counted = await _last_counted_replies(session, {arrival.lead.id for arrival in said})
    changes: list[dict[str, object]] = []
    for arrival in said:
        lead, message, event = arrival.lead, arrival.message, arrival.event
        classified = classify_content(event.content, default_classifier(), language=lead.language)
        intent = classified.intent
        if intent is Intent.OPT_OUT:
            changes.append(_apply(session, lead, ScoreReason.OPTED_OUT, message.id, to=LOWEST))
            continue
        if intent is not Intent.NOT_INTERESTED:
            if _is_tap(event.content):
                changes.append(_apply(session, lead, ScoreReason.BUTTON, message.id))
            elif _reply_counts(last_counted.get(lead.id), event.timestamp):
                changes.append(_apply(session, lead, ScoreReason.REPLIED, message.id))
                last_counted[lead.id] = message.created_at
        reason = INTENT_REASONS.get(intent)
        if reason is not None:
            changes.append(_apply(session, lead, reason, message.id))
    await _record(session, changes)


def _is_tap(content: MessageContent) -> bool:
    if isinstance(content, TemplateButtonContent):
        return True
    return isinstance(content, InteractiveReplyContent) and content.reply_type in _TAPS


def _reply_counts(last: datetime | None, written_at: datetime) -> bool:
    """Whether a message written at this time is an hour from the last reply that counted."""
    return last is None or abs(written_at - last) >= REPLY_EVERY


async def _last_counted_replies(session: AsyncSession, lead_ids: set[str]) -> dict[str, datetime]:
    """When each lead wrote the last message that counted as a reply (the message of its
    newest ``replied`` change), for the leads that have one."""
    ordered = sorted(lead_ids)
    found: dict[str, datetime] = {}
    newest_first = (ScoreChange.at.desc(), ScoreChange.id.desc())
    for start in range(0, len(ordered), _CHUNK):
        ranked = (
            select(
                ScoreChange.lead_id,
                Message.created_at,
                func.row_number()
                .over(partition_by=ScoreChange.lead_id, order_by=newest_first)
                .label("rank"),
            )
            .join(Message, Message.id == ScoreChange.source)
            .where(
                dialects.one_of(session, ScoreChange.lead_id, ordered[start : start + _CHUNK]),
                ScoreChange.reason == ScoreReason.REPLIED,
            )
            .subquery()
        )
        query = select(ranked.c.lead_id, ranked.c.created_at).where(ranked.c.rank == 1)
        found.update((lead_id, at) for lead_id, at in await session.execute(query))
    return found


async def on_status(session: AsyncSession, changes: Sequence[hooks.StatusChange]) -> None:
    """Score the reads of our messages in a batch of status changes (the status hook)."""
    read = [change for change in changes if change.status == MessageStatus.READ]
    if not read:
        return
    leads = await _locked(session, {change.lead_id for change in read})
    counted = await _counted(
        session, leads, ScoreReason.READ, [change.message_id for change in read]
    )
    scored: list[dict[str, object]] = []
    for change in read:
        lead = leads.get(change.lead_id)
        if lead is None or lead.erased_at is not None or change.message_id in counted:
            continue
        counted.add(change.message_id)
        scored.append(_apply(session, lead, ScoreReason.READ, change.message_id))
    await _record(session, scored)


async def viewing_booked(session: AsyncSession, meeting: Meeting) -> None:
    """Score a viewing once it is booked: created or changed to confirmed (or done).

    The meetings service calls this in its transaction, after the meeting is written, with
    the lead's row locked; a meeting is counted once, whatever happens to it afterwards.
    """
    if meeting.status not in _BOOKED:
        return
    leads = await _locked(session, {meeting.lead_id})
    lead = leads.get(meeting.lead_id)
    if lead is None or lead.erased_at is not None:
        return
    if meeting.id in await _counted(session, leads, ScoreReason.BOOKED, [meeting.id]):
        return
    await _record(session, [_apply(session, lead, ScoreReason.BOOKED, meeting.id)])


async def _locked(
    session: AsyncSession, lead_ids: Iterable[str], *, skip_locked: bool = False
) -> dict[str, Lead]:
    """The leads, read afresh and locked for this transaction, in id order (PostgreSQL:
    ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` serialises writers anyway)."""
    ordered = sorted(lead_ids)
    found: dict[str, Lead] = {}
    for start in range(0, len(ordered), _CHUNK):
        query = (
            select(Lead)
            .where(dialects.one_of(session, Lead.id, ordered[start : start + _CHUNK]))
            .order_by(Lead.id)
            .with_for_update(skip_locked=skip_locked)
            .execution_options(populate_existing=True)
        )
        found.update((lead.id, lead) for lead in await session.scalars(query))
    return found


async def _counted(
    session: AsyncSession, leads: Mapping[str, Lead], reason: ScoreReason, sources: list[str]
) -> set[str]:
    """Which of these sources already changed these leads' scores for this reason."""
    found: set[str] = set()
    for start in range(0, len(sources), _CHUNK):
        query = select(ScoreChange.source).where(
            dialects.one_of(session, ScoreChange.lead_id, leads),
            ScoreChange.reason == reason,
            dialects.one_of(session, ScoreChange.source, sources[start : start + _CHUNK]),
        )
        found.update(await session.scalars(query))
    return found


@scheduler.daily("engagement.decay", hour=3)
async def decay_job(ctx: scheduler.JobContext) -> None:
    """The silence decay, daily at 03:00 in the agency's zone (:func:`decay`)."""
    charged = await decay(ctx.db)
    log.info("engagement decay: silence charged to %d leads", charged)


async def decay(db: Database, *, now: datetime | None = None) -> int:
    """Charge the weeks of silence not charged yet; the number of leads charged.

    A lead is silent since its last inbound message (or its creation). Week ``n`` of that
    silence ends ``n`` weeks after it began; each full week costs 5 points if it ended after
    the lead's latest change of another kind and was not charged before (a charge, dated
    ``now``, covers every week that had ended by then). The weeks due are one change
    (``week:4``, or ``weeks:1-3`` when the job did not run for a while). A lead at 0 is left
    alone. Leads are taken a chunk per transaction, their rows locked; on PostgreSQL a lead
    locked by another transaction (a message being applied) is skipped until the next run.
    """
    now = now or utcnow()
    silent_since = func.coalesce(Lead.last_inbound_at, Lead.created_at)
    candidates = (
        select(Lead.id)
        .where(
            Lead.engagement_score > LOWEST,
            Lead.erased_at.is_(None),
            silent_since <= now - SILENT_WEEK,
        )
        .order_by(Lead.id)
    )
    async with db.session() as session:
        lead_ids = list(await session.scalars(candidates))
    charged = 0
    for start in range(0, len(lead_ids), _CHUNK):
        async with db.session() as session:
            charged += await _decay_chunk(session, lead_ids[start : start + _CHUNK], now)
            await session.commit()
    return charged


async def _decay_chunk(session: AsyncSession, lead_ids: list[str], now: datetime) -> int:
    leads = await _locked(session, lead_ids, skip_locked=True)
    latest = select(ScoreChange.lead_id, func.max(ScoreChange.at)).group_by(ScoreChange.lead_id)
    of_chunk = latest.where(dialects.one_of(session, ScoreChange.lead_id, leads))
    silence = ScoreChange.reason == ScoreReason.SILENCE  # their ``at``: the run's time
    charged_at: dict[str, datetime] = {
        lead_id: at for lead_id, at in await session.execute(of_chunk.where(silence))
    }
    other_at: dict[str, datetime] = {
        lead_id: at for lead_id, at in await session.execute(of_chunk.where(~silence))
    }
    changes: list[dict[str, object]] = []
    for lead in leads.values():
        if lead.erased_at is not None:
            continue
        since = lead.last_inbound_at or lead.created_at
        done = max(_weeks(since, charged_at.get(lead.id)), _weeks(since, other_at.get(lead.id)))
        weeks = _weeks(since, now)
        if weeks <= done:
            continue
        which = f"week:{weeks}" if weeks == done + 1 else f"weeks:{done + 1}-{weeks}"
        points = POINTS[ScoreReason.SILENCE] * (weeks - done)
        changes.append(_apply(session, lead, ScoreReason.SILENCE, which, points=points, at=now))
    await _record(session, changes)
    return len(changes)


def _weeks(since: datetime, until: datetime | None) -> int:
    """Full weeks of silence begun at ``since`` that had ended by ``until`` (0 if never)."""
    if until is None or until <= since:
        return 0
    return (until - since) // SILENT_WEEK


async def history(
    db: Database, *, actor: Actor, lead_id: str, page: PageQuery | None = None
) -> ScoreHistory:
    """A lead's score and its changes, newest first, a page at a time; NotFound for a lead
    the actor may not see, Gone for an erased one (as :func:`ovenai.leads.load_visible`)."""
    page = page or PageQuery()
    query = select(ScoreChange).where(ScoreChange.lead_id == lead_id)
    if page.cursor:
        at, after = _position(page.cursor)
        query = query.where(
            or_(ScoreChange.at < at, and_(ScoreChange.at == at, ScoreChange.id < after))
        )
    query = query.order_by(ScoreChange.at.desc(), ScoreChange.id.desc()).limit(page.limit + 1)
    async with db.reading() as session:
        lead = await load_visible(session, actor, lead_id)
        score = lead.engagement_score
        rows = list(await session.scalars(query))
    shown = page_of(rows, page, lambda change: change.id)
    cursor = shown.next_cursor
    if cursor is not None:
        cursor = f"{(shown.items[-1].at - _EPOCH) // _TICK}.{cursor}"
    changes = [
        ScoreChangeRecord(change.at, change.delta, change.score, change.reason, change.source)
        for change in shown.items
    ]
    return ScoreHistory(score, changes, cursor)


def _position(cursor: str) -> tuple[datetime, str]:
    """The change a cursor of :func:`history` points after: ``<at in µs>.<id cursor>``."""
    micros, _, rest = cursor.partition(".")
    if not micros.isdecimal() or len(micros) > 18:
        raise InvalidInput("the cursor is not valid", field="cursor")
    return _EPOCH + int(micros) * _TICK, decode_cursor(rest)
