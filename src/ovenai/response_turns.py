"""Leads' turns, first responses and replies, kept for the key figures (ovenai.kpis).

The definitions are the key figures' (docs/architecture.md "Key figures"):

* A lead's *turn* starts with an inbound message that follows a message a person sent, or
  starts the conversation; its first response is the next message a person (not
  automation) sent to that lead. "Follows" and "next" are in the order of the lead's
  inbound and person-sent messages by (``created_at``, ``id``).
* The reply rate: of the leads with an accepted message of ours in the period, those who
  wrote after our first accepted message of the period, before its end.

Counting them for a period used to be a window over every message of the leads active in
it, and two scans of the period grouped by lead (seconds at a million messages). They are
kept instead, and a period's are an indexed range:

* ``response_turns``: one row per turn (its inbound message, when, the first person's
  answer and who).
* ``reply_marks``: one row per accepted message of ours (``written``: its ``sent_at`` and
  the lead's accepted message before it), and one per first message of the lead after one
  of ours (``replied``: our last accepted message before it, when the lead wrote, and the
  lead's ``replied`` row before). A lead was written to in a period when one of its
  ``written`` rows lies in it and the one before does not; it replied when the first of its
  ``replied`` rows after our message in the period has the lead writing before the end. So
  each lead is one row of the range, counted without grouping; and the rows are summed by
  hour (``reply_mark_hours``, kept by the database's triggers), so a recent period's counts
  are sums of its hours, not a scan of its rows (:mod:`ovenai.reply_hours`).

How they stay exact:

* The worker's ``kpis.turns`` job (every minute) counts again, from all their messages,
  the leads with a message written since its last run less ``GRACE`` (found by id: ids
  are time-ordered, made when the row is written; an inbound message's ``created_at`` and
  ``updated_at`` are Meta's time, however late the webhook came), with one of ours
  accepted since (``sent_at``) or restamped by a "sent" status that arrived since (it
  carries Meta's time), and those retention marked stale; then it records when it started
  (``response_turns_progress``). Its first run counts every lead. Nothing else the rows
  depend on (a message's lead, direction, sender, ``created_at``) changes once written.
* The key figures take the kept rows of every other lead, and count those leads live, so
  a report is exact at once, not a minute later (the reply counts: those of every kept
  row, less the live leads' kept rows, plus their live ones). Until the job's first run,
  every lead is counted live.
* An erased lead keeps its messages (blanked), so its rows stay; a deleted lead's rows go
  with it, and so does a row whose message retention deleted. Retention marks the leads it
  took messages from stale (``mark_stale``): the first message left may now start a turn.

``GRACE`` covers transactions that write a message and commit later (a webhook batch, a
send): one committing more than ``GRACE`` after it wrote would be missed until its lead's
next message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects, reply_hours, turn_hours
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.kept_hours import hour_ranges
from ovenai.models import (
    Direction,
    Message,
    ReplyMark,
    ResponseTurn,
    ResponseTurnsProgress,
    ResponseTurnsStale,
    StatusEvent,
)
from ovenai.reply_hours import REPLIED, WRITTEN

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=10)
EVERY_S = 60.0
LEASE_S = 1800.0  # the first run counts every lead's messages
BATCH = 500  # leads counted again per transaction
MARKS_PER_INSERT = 2000  # reply marks a statement inserts (six parameters each)
PROGRESS = "turns"


@dataclass(frozen=True)
class Turn:
    """A lead's turn: its first inbound message, and the first person's answer (if any)."""

    message_id: str
    lead_id: str
    turn_at: datetime
    reply_at: datetime | None
    replied_by_id: str | None


def turns_of(rows: Iterable[Sequence[Any]]) -> list[Turn]:
    """The turns in messages given as (lead, id, direction, created_at, sent_by) rows of
    inbound and person-sent messages, ordered by lead, ``created_at`` and ``id``."""
    turns: list[Turn] = []

    def close(turn: Turn) -> None:
        # Two turns of a lead at one instant (a person's message between two inbound ones
        # of the same microsecond) count once, as the key figures always counted them.
        if not turns or (turns[-1].lead_id, turns[-1].turn_at) != (turn.lead_id, turn.turn_at):
            turns.append(turn)

    for lead_id, messages in groupby(rows, key=lambda row: row[0]):
        previous: str | None = None
        waiting: tuple[str, datetime] | None = None
        for _lead, message_id, direction, at, sent_by in messages:
            if direction == Direction.INBOUND:
                if previous != Direction.INBOUND:
                    waiting = (message_id, at)
            elif waiting is not None:
                close(Turn(waiting[0], lead_id, waiting[1], at, sent_by))
                waiting = None
            previous = direction
        if waiting is not None:
            close(Turn(waiting[0], lead_id, waiting[1], None, None))
    return turns


@dataclass(frozen=True)
class Mark:
    """A fact the reply rate counts (``ovenai.models.ReplyMark``)."""

    message_id: str
    lead_id: str
    kind: str  # WRITTEN or REPLIED
    at: datetime
    previous_at: datetime | None
    reply_at: datetime | None


def marks_of(rows: Iterable[Sequence[Any]]) -> list[Mark]:
    """The reply rate's facts in messages given as (lead, id, direction, created_at,
    sent_at, sent_by) rows ordered by lead: each accepted message of ours (by ``sent_at``),
    each lead's first message after one (by ``created_at``; one at the very instant of ours
    is not after it)."""
    marks: list[Mark] = []
    for lead_id, messages in groupby(rows, key=lambda row: row[0]):
        events = sorted(
            (sent_at, 1, message_id)
            if direction == Direction.OUTBOUND
            else (created_at, 0, message_id)
            for _lead, message_id, direction, created_at, sent_at, _by in messages
            if direction == Direction.INBOUND or sent_at is not None
        )
        last_written: datetime | None = None
        last_replied: datetime | None = None
        for at, ours, message_id in events:
            if ours:
                marks.append(Mark(message_id, lead_id, WRITTEN, at, last_written, None))
                last_written = at
            elif last_written is not None and last_written != last_replied:
                marks.append(Mark(message_id, lead_id, REPLIED, last_written, last_replied, at))
                last_replied = last_written
    return marks


def reply_counts(marks: Iterable[Mark], start: datetime, end: datetime) -> tuple[int, int]:
    """(leads written to in the period, of them those who wrote back before its end)."""
    written = replied = 0
    for mark in marks:
        if not (start <= mark.at < end) or not (
            mark.previous_at is None or mark.previous_at < start
        ):
            continue
        if mark.kind == WRITTEN:
            written += 1
        elif mark.reply_at is not None and mark.reply_at < end:
            replied += 1
    return written, replied


async def _count_live(
    session: AsyncSession, leads: ColumnElement[bool]
) -> tuple[list[Turn], list[Mark]]:
    """Every turn and reply mark of the leads ``leads`` selects, from their messages."""
    query = (
        select(
            Message.lead_id,
            Message.id,
            Message.direction,
            Message.created_at,
            Message.sent_at,
            Message.sent_by_id,
        )
        .where(leads)
        .order_by(Message.lead_id, Message.created_at, Message.id)
    )
    rows = list(await session.execute(query))
    people = [
        (lead, message_id, direction, created_at, by)
        for lead, message_id, direction, created_at, _sent, by in rows
        if direction == Direction.INBOUND or by is not None
    ]
    return turns_of(people), marks_of(rows)


def first_id_at(moment: datetime) -> str:
    """The lowest message id made at ``moment`` or later (ids are UUIDv7, made when the row
    is written, led by its milliseconds: ``ovenai.columns.new_id``)."""
    millis = int(moment.timestamp() * 1000)
    return f"{millis >> 16:08x}-{millis & 0xFFFF:04x}-0000-0000-000000000000"


def _touched_since(moment: datetime) -> Any:
    """Leads with a message written since ``moment`` (by its id: an inbound message's
    ``created_at`` is Meta's time, however late it came), one of ours accepted since
    (``sent_at``, set when Meta accepts it, or restamped by a "sent" status arrived since),
    or stale. Nothing else the kept rows depend on
    (lead, direction, sender, ``created_at``) changes once a message is written."""
    written = select(Message.lead_id).where(Message.id >= first_id_at(moment))
    accepted = select(Message.lead_id).where(
        Message.direction == Direction.OUTBOUND, Message.sent_at >= moment
    )
    # A "sent" status restamps ``sent_at`` with Meta's time, however late it arrives.
    restamped = (
        select(Message.lead_id)
        .join(StatusEvent, StatusEvent.wa_message_id == Message.wa_message_id)
        .where(
            StatusEvent.applied.in_((False, True)),  # the (applied, received_at) index
            StatusEvent.received_at >= moment,
            StatusEvent.status == "sent",
        )
    )
    return written.union(accepted, restamped, select(ResponseTurnsStale.lead_id))


@dataclass(frozen=True)
class PeriodTurns:
    """A period's turns and reply counts. ``kept``: the job has run, so the turns are the
    kept ones (``response_turns``, the period's hours ``ovenai.turn_hours``) with those of
    the leads written since its last run replaced: ``old``, their kept turns, by ``new``,
    the same leads' turns counted from their messages. Not ``kept``: ``new`` are the turns
    of every lead that wrote in the period, counted from the messages, and ``replies`` is
    None (count them from the messages)."""

    kept: bool
    old: list[Turn]
    new: list[Turn]
    replies: tuple[int, int] | None


async def _kept_turns(session: AsyncSession, lead_ids: list[str]) -> list[Turn]:
    query = select(
        ResponseTurn.message_id,
        ResponseTurn.lead_id,
        ResponseTurn.turn_at,
        ResponseTurn.reply_at,
        ResponseTurn.replied_by_id,
    ).where(ResponseTurn.lead_id.in_(lead_ids))
    return [Turn(*row) for row in await session.execute(query)]


async def in_period(session: AsyncSession, start: datetime, end: datetime) -> PeriodTurns:
    """The turns started in the period (``start`` inclusive, ``end`` exclusive) and its
    reply counts: the kept ones, and those of leads written since the job's last run
    counted live."""
    progress = await session.get(ResponseTurnsProgress, PROGRESS)
    if progress is None:  # never counted: every lead that wrote in the period, live
        active = select(Message.lead_id).where(
            Message.direction == Direction.INBOUND,
            Message.created_at >= start,
            Message.created_at < end,
        )
        counted, _marks = await _count_live(session, Message.lead_id.in_(active.distinct()))
        period = [turn for turn in counted if start <= turn.turn_at < end]
        return PeriodTurns(False, [], period, None)
    dirty = sorted(set(await session.scalars(_touched_since(progress.done_until - GRACE))))
    # Every kept mark's counts, less the live leads' kept marks, plus their live ones.
    written, replied = await reply_hours.counts(session, start, end)
    old: list[Turn] = []
    new: list[Turn] = []
    live_marks: list[Mark] = []
    for offset in range(0, len(dirty), BATCH):
        chunk = dirty[offset : offset + BATCH]
        outdated_written, outdated_replied = await reply_hours.scanned(session, start, end, chunk)
        written -= outdated_written
        replied -= outdated_replied
        old += await _kept_turns(session, chunk)
        turns, facts = await _count_live(session, Message.lead_id.in_(chunk))
        new += turns
        live_marks += facts
    live_written, live_replied = reply_counts(live_marks, start, end)
    return PeriodTurns(True, old, new, (written + live_written, replied + live_replied))


async def period_turns(
    session: AsyncSession, found: PeriodTurns, start: datetime, end: datetime
) -> list[Turn]:
    """Every turn started in the period, one by one (the definitions' figures are theirs:
    ``ovenai.kpis._summarised``)."""
    turns = {t.message_id: t for t in found.new if start <= t.turn_at < end}
    if found.kept:
        gone = {t.message_id for t in found.old}
        query = select(
            ResponseTurn.message_id,
            ResponseTurn.lead_id,
            ResponseTurn.turn_at,
            ResponseTurn.reply_at,
            ResponseTurn.replied_by_id,
        ).where(ResponseTurn.turn_at >= start, ResponseTurn.turn_at < end)
        for row in await session.execute(query):
            if row[0] not in gone:
                turns.setdefault(row[0], Turn(*row))
    return list(turns.values())


async def _recount(
    session: AsyncSession, lead_ids: list[str], started: datetime, *, keep_hours: bool
) -> int:
    """Count these leads' turns and marks again from their messages; how many turns. With
    ``keep_hours``, the hours of the turns that changed are counted again too
    (``ovenai.turn_hours``), in the same transaction."""
    turns, marks = await _count_live(session, Message.lead_id.in_(lead_ids))
    old = await _kept_turns(session, lead_ids) if keep_hours else []
    await session.execute(delete(ResponseTurn).where(ResponseTurn.lead_id.in_(lead_ids)))
    await session.execute(delete(ReplyMark).where(ReplyMark.lead_id.in_(lead_ids)))
    if turns:
        await session.execute(
            insert(ResponseTurn),
            [
                {
                    "message_id": turn.message_id,
                    "lead_id": turn.lead_id,
                    "turn_at": turn.turn_at,
                    "reply_at": turn.reply_at,
                    "replied_by_id": turn.replied_by_id,
                }
                for turn in turns
            ],
        )
    # One statement a chunk, not one a row: the triggers that keep reply_mark_hours run
    # once per statement on PostgreSQL (ovenai.reply_hours).
    for offset in range(0, len(marks), MARKS_PER_INSERT):
        await session.execute(
            insert(ReplyMark).values(
                [
                    {
                        "message_id": mark.message_id,
                        "lead_id": mark.lead_id,
                        "kind": mark.kind,
                        "at": mark.at,
                        "previous_at": mark.previous_at,
                        "reply_at": mark.reply_at,
                    }
                    for mark in marks[offset : offset + MARKS_PER_INSERT]
                ]
            )
        )
    await session.execute(
        delete(ResponseTurnsStale).where(
            ResponseTurnsStale.lead_id.in_(lead_ids), ResponseTurnsStale.marked_at <= started
        )
    )
    if keep_hours:
        await turn_hours.recount(session, hour_ranges(turn_hours.changed_hours(old, turns)))
    return len(turns)


async def refresh(db: Database) -> int:
    """Count again the turns and reply marks of the leads written since the last run (every
    lead on the first run); how many leads were counted. Each batch of leads is one
    transaction; a failed run leaves the progress where it was, so the next counts them.
    Then the kept hours of the turns' waits (``ovenai.turn_hours``): kept batch by batch
    once counted; counted whole after the first run."""
    started = utcnow()
    async with db.session() as session:
        progress = await session.get(ResponseTurnsProgress, PROGRESS)
        if progress is None:
            leads = select(Message.lead_id).distinct()
            # Every turn is written again: the kept hours are counted afterwards.
            await session.execute(
                delete(ResponseTurnsProgress).where(
                    ResponseTurnsProgress.name == turn_hours.PROGRESS
                )
            )
            await session.commit()
            keep_hours = False
        else:
            leads = _touched_since(progress.done_until - GRACE)
            keep_hours = await turn_hours.kept(session)
        lead_ids = sorted(set(await session.scalars(leads)))
    for offset in range(0, len(lead_ids), BATCH):
        async with db.session() as session:
            await _recount(
                session, lead_ids[offset : offset + BATCH], started, keep_hours=keep_hours
            )
            await session.commit()
    async with db.session() as session:
        upsert = dialects.insert(session, ResponseTurnsProgress).values(
            name=PROGRESS, done_until=started
        )
        await session.execute(
            upsert.on_conflict_do_update(index_elements=["name"], set_={"done_until": started})
        )
        await session.commit()
    if lead_ids:
        log.info("counted the turns and reply marks of %d leads again", len(lead_ids))
    await turn_hours.refresh(db)
    return len(lead_ids)


async def mark_stale(session: AsyncSession, lead_ids: Iterable[str]) -> None:
    """These leads' turns and marks must be counted again (their messages were deleted)."""
    now = utcnow()
    for lead_id in sorted(set(lead_ids)):
        upsert = dialects.insert(session, ResponseTurnsStale).values(lead_id=lead_id, marked_at=now)
        await session.execute(
            upsert.on_conflict_do_update(index_elements=["lead_id"], set_={"marked_at": now})
        )
