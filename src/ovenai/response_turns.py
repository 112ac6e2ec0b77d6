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

* The worker's ``kpis.turns`` job (every minute) counts again the leads with a message
  written since its last run less ``GRACE`` (found by id: ids
  are time-ordered, made when the row is written; an inbound message's ``created_at`` and
  ``updated_at`` are Meta's time, however late the webhook came), with one of ours
  accepted since (``sent_at``) or restamped by a "sent" status that arrived since (it
  carries Meta's time), and those retention marked stale; then it records when it started
  (``response_turns_progress``). Its first run counts every lead. Nothing else the rows
  depend on (a message's lead, direction, sender, ``created_at``) changes once written.
* Each lead is counted again from where it may have changed (:func:`_resume`): from the
  earliest time its changes concern, its turns from its last kept turn before that time
  (a turn starts after a message that is not the lead's: nothing before it matters) and
  its marks from that time, in the state its kept marks before it leave; only the rows
  that differ are written, and the hours of the turns' waits with them
  (:mod:`ovenai.turn_hours`). So a run reads the messages written since and those of the
  leads' last turns, not their histories. Stale leads count from their first message.
* The key figures take the kept rows of every other lead, and count those leads live the
  same way, so a report is exact at once, not a minute later (the reply counts: those of
  every kept row, less the live leads' kept rows read, plus their live ones). Until the
  job's first run, every lead is counted live.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    String,
    and_,
    bindparam,
    column,
    delete,
    func,
    insert,
    select,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects, reply_hours, turn_hours
from ovenai.columns import UTCDateTime, utcnow
from ovenai.db import Database
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
# A kept turn's columns, in Turn's order.
_TURN_COLUMNS = (
    ResponseTurn.message_id,
    ResponseTurn.lead_id,
    ResponseTurn.turn_at,
    ResponseTurn.reply_at,
    ResponseTurn.replied_by_id,
)
# What a lead's turns and reply marks are counted from, in the order the counting reads.
_MESSAGE_COLUMNS = (
    Message.lead_id,
    Message.id,
    Message.direction,
    Message.created_at,
    Message.sent_at,
    Message.sent_by_id,
)
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
        marks += _marks_after(lead_id, messages, None, None)
    return marks


def _marks_after(
    lead_id: str,
    rows: Iterable[Sequence[Any]],
    last_written: datetime | None,
    last_replied: datetime | None,
) -> list[Mark]:
    """One lead's marks in these messages (``marks_of``'s rows), given the state its
    earlier ones left: the ``at`` of its last ``written`` mark and of its last ``replied``."""
    events = sorted(
        (sent_at, 1, message_id) if direction == Direction.OUTBOUND else (created_at, 0, message_id)
        for _lead, message_id, direction, created_at, sent_at, _by in rows
        if direction == Direction.INBOUND or sent_at is not None
    )
    marks: list[Mark] = []
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
        select(*_MESSAGE_COLUMNS)
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


def _since(moment: datetime) -> Any:
    """The queries of what changed since ``moment``, by lead: messages written since (by
    id: an inbound message's ``created_at`` is Meta's time, however late it came; their
    earliest ``created_at`` and ``sent_at``), ours accepted since (``sent_at``, set when
    Meta accepts it) or restamped by a "sent" status arrived since (it carries Meta's
    time: the new ``sent_at``, and the ``at`` of the mark kept for the old), and the stale
    leads. Nothing else the kept rows depend on (lead, direction, sender, ``created_at``)
    changes once a message is written."""
    written = select(
        Message.lead_id, func.min(Message.created_at), func.min(Message.sent_at)
    ).where(Message.id >= first_id_at(moment))
    accepted = select(Message.lead_id, Message.sent_at, Message.id).where(
        Message.direction == Direction.OUTBOUND, Message.sent_at >= moment
    )
    restamped = (
        select(Message.lead_id, Message.sent_at, Message.id, ReplyMark.at)
        .join(StatusEvent, StatusEvent.wa_message_id == Message.wa_message_id)
        .outerjoin(ReplyMark, ReplyMark.message_id == Message.id)
        .where(
            StatusEvent.applied.in_((False, True)),  # the (applied, received_at) index
            StatusEvent.received_at >= moment,
            StatusEvent.status == "sent",
        )
    )
    return (
        written.group_by(Message.lead_id),
        accepted,
        restamped,
        select(ResponseTurnsStale.lead_id),
    )


@dataclass
class _Lead:
    """Where a lead's recount starts: ``at`` None, from its first message; else its turns
    from ``turn`` (its last kept turn before ``at``, if any) and its marks from ``at``."""

    at: datetime | None
    ids: set[str] = field(default_factory=set)  # ours accepted or restamped since
    turn: tuple[datetime, str] | None = None
    last_written: datetime | None = None
    last_replied: datetime | None = None


async def _changes_since(session: AsyncSession, moment: datetime) -> dict[str, _Lead]:
    """The leads whose kept rows may have changed since ``moment``, each with where its
    recount starts (``_since``)."""
    found: dict[str, _Lead] = {}

    def note(lead_id: str, at: datetime | None, message_id: str | None = None) -> None:
        if at is None:
            return
        lead = found.setdefault(lead_id, _Lead(at))
        if lead.at is not None and at < lead.at:
            lead.at = at
        if message_id is not None:
            lead.ids.add(message_id)

    written, accepted, restamped, stale = _since(moment)
    for lead_id, created_at, sent_at in await session.execute(written):
        note(lead_id, created_at)
        note(lead_id, sent_at)
    for lead_id, at, message_id in await session.execute(accepted):
        note(lead_id, at, message_id)
    for lead_id, at, message_id, kept_at in await session.execute(restamped):
        note(lead_id, at, message_id)
        note(lead_id, kept_at)
    for lead_id in await session.scalars(stale):
        found[lead_id] = _Lead(None)
    return found


@dataclass(frozen=True)
class Resumed:
    """Leads' turns and marks that may have changed: the kept ones (``old_*``) and the
    ones their messages give now (``new_*``); how many messages were read."""

    old_turns: list[Turn]
    new_turns: list[Turn]
    old_marks: list[Mark]
    new_marks: list[Mark]
    messages: int


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # "from the start": before any message


def _bounds(session: AsyncSession, rows: list[tuple[str, datetime]]) -> Any:
    """(lead, moment) pairs as a table for one statement: each lead's rows are then an
    index range from its own moment. PostgreSQL: two array parameters unnested (the
    statement compiles once); SQLite: a VALUES list."""
    if dialects.is_postgresql(session):
        leads = bindparam("bound_leads", [lead for lead, _at in rows], type_=ARRAY(String()))
        times = bindparam(
            "bound_times", [at for _lead, at in rows], type_=ARRAY(DateTime(timezone=True))
        )
        pairs = func.unnest(leads, times).table_valued("lead_id", "since").render_derived()
        return select(pairs.c.lead_id, pairs.c.since).cte("bounds")
    table = values(column("lead_id", String()), column("since", UTCDateTime()), name="bounds")
    return table.data(rows).cte("bounds")


def _last_mark_before(bounds: Any, kind: str) -> Any:
    """The time of each bounded lead's last reply mark of this kind before its ``since``."""
    return (
        select(func.max(ReplyMark.at))
        .where(
            ReplyMark.lead_id == bounds.c.lead_id,
            ReplyMark.at < bounds.c.since,
            ReplyMark.kind == kind,
        )
        .scalar_subquery()
    )


async def _resume(session: AsyncSession, leads: dict[str, _Lead]) -> Resumed:
    """Count these leads' turns and marks again from where each may have changed: its
    turns from its last kept turn before the change (a turn starts after a message that is
    not the lead's, whatever came before), its marks from the change's time, in the state
    its kept marks before that time leave. So a lead's messages are read from its last
    kept turn before the change, not from its first (from its first when ``at`` is None).
    Each read is one statement for every lead, an index range per lead."""
    if not leads:
        return Resumed([], [], [], [], 0)
    resumed = {lead_id: lead for lead_id, lead in leads.items() if lead.at is not None}
    if resumed:  # the last kept turn and ``written`` mark before the change
        bounds = _bounds(
            session, [(lead_id, lead.at) for lead_id, lead in resumed.items() if lead.at]
        )
        anchor = (
            select(func.max(ResponseTurn.turn_at))
            .where(ResponseTurn.lead_id == bounds.c.lead_id, ResponseTurn.turn_at < bounds.c.since)
            .scalar_subquery()
        )
        query = select(bounds.c.lead_id, anchor, _last_mark_before(bounds, WRITTEN))
        for lead_id, turn_at, last_written in await session.execute(query):
            lead = resumed[lead_id]
            lead.turn = None if turn_at is None else (turn_at, "")
            lead.last_written = last_written

    def since(lead: _Lead, anchor: datetime | None) -> datetime:
        return EPOCH if lead.at is None else anchor if anchor is not None else lead.at

    turns_from = _bounds(
        session,
        [
            (lead_id, since(lead, lead.turn[0] if lead.turn else None))
            for lead_id, lead in leads.items()
        ],
    )
    kept_turns = select(*_TURN_COLUMNS).join(
        turns_from,
        and_(
            ResponseTurn.lead_id == turns_from.c.lead_id,
            ResponseTurn.turn_at >= turns_from.c.since,
        ),
    )
    old_turns = sorted(
        (Turn(*row) for row in await session.execute(kept_turns)),
        key=lambda turn: (turn.lead_id, turn.turn_at),
    )
    for turn in old_turns:  # the anchor is the first kept turn from its time
        lead = leads[turn.lead_id]
        if lead.turn is not None and lead.turn[1] == "" and turn.turn_at == lead.turn[0]:
            lead.turn = (turn.turn_at, turn.message_id)

    marks_from = _bounds(
        session, [(lead_id, since(lead, lead.last_written)) for lead_id, lead in leads.items()]
    )
    kept_marks = select(
        ReplyMark.message_id,
        ReplyMark.lead_id,
        ReplyMark.kind,
        ReplyMark.at,
        ReplyMark.previous_at,
        ReplyMark.reply_at,
    ).join(
        marks_from,
        and_(ReplyMark.lead_id == marks_from.c.lead_id, ReplyMark.at >= marks_from.c.since),
    )
    old_marks: list[Mark] = []
    replied_after: set[str] = set()
    for mark in (Mark(*row) for row in await session.execute(kept_marks)):
        lead = leads[mark.lead_id]
        if lead.at is None:
            old_marks.append(mark)
        elif mark.kind == WRITTEN:
            if mark.at >= lead.at:
                old_marks.append(mark)
                lead.ids.add(mark.message_id)  # ours from the change on, read by id
        elif mark.reply_at is not None and mark.reply_at >= lead.at:
            old_marks.append(mark)
            if mark.at == lead.last_written:  # the lead replied to it after the change
                lead.last_replied = mark.previous_at
                replied_after.add(mark.lead_id)
        elif mark.at == lead.last_written:  # ... or before it
            lead.last_replied = mark.at
            replied_after.add(mark.lead_id)
    earlier_needed = [
        (lead_id, lead.last_written)
        for lead_id, lead in resumed.items()
        if lead.last_written is not None and lead_id not in replied_after
    ]
    if earlier_needed:  # the last ``replied`` mark before the last ``written`` one
        bounds = _bounds(session, earlier_needed)
        earlier = _last_mark_before(bounds, REPLIED)
        for lead_id, at in await session.execute(select(bounds.c.lead_id, earlier)):
            leads[lead_id].last_replied = at

    messages_from = _bounds(
        session,
        [
            (lead_id, since(lead, lead.turn[0] if lead.turn else None))
            for lead_id, lead in leads.items()
        ],
    )
    query = select(*_MESSAGE_COLUMNS).join(
        messages_from,
        and_(
            Message.lead_id == messages_from.c.lead_id,
            Message.created_at >= messages_from.c.since,
        ),
    )
    found: dict[str, Any] = {row[1]: tuple(row) for row in await session.execute(query)}
    ids = sorted({message_id for lead in leads.values() for message_id in lead.ids} - set(found))
    for offset in range(0, len(ids), MARKS_PER_INSERT):
        chunk = ids[offset : offset + MARKS_PER_INSERT]
        by_id = select(*_MESSAGE_COLUMNS).where(Message.id.in_(chunk))
        found.update((row[1], tuple(row)) for row in await session.execute(by_id))
    rows: list[tuple[str, str, str, datetime, datetime | None, str | None]] = sorted(
        (
            (lead_id, message_id, direction, created_at, sent_at, by)
            for lead_id, message_id, direction, created_at, sent_at, by in found.values()
            if lead_id in leads
        ),
        key=lambda row: (row[0], row[3], row[1]),
    )
    new_turns: list[Turn] = []
    new_marks: list[Mark] = []
    for lead_id, messages in groupby(rows, key=lambda row: row[0]):
        lead = leads[lead_id]
        mine = list(messages)
        if lead.at is None:
            start: tuple[datetime, str] | None = None
            events = mine
        else:
            start = lead.turn if lead.turn is not None else (lead.at, "")
            at = lead.at
            events = [
                row
                for row in mine
                if (
                    (row[4] is not None and row[4] >= at)
                    if row[2] == Direction.OUTBOUND
                    else row[3] >= at
                )
            ]
        people = [
            (lead_id, message_id, direction, created_at, by)
            for _lead, message_id, direction, created_at, _sent, by in mine
            if (direction == Direction.INBOUND or by is not None)
            and (start is None or (created_at, message_id) >= start)
        ]
        new_turns += turns_of(people)
        if lead.at is None:
            new_marks += _marks_after(lead_id, events, None, None)
        else:
            new_marks += _marks_after(lead_id, events, lead.last_written, lead.last_replied)
    return Resumed(old_turns, new_turns, old_marks, new_marks, len(rows))


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
    query = select(*_TURN_COLUMNS).where(ResponseTurn.lead_id.in_(lead_ids))
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
    leads = await _changes_since(session, progress.done_until - GRACE)
    # Every kept mark's counts, less the live leads' kept marks, plus their live ones.
    written, replied = await reply_hours.counts(session, start, end)
    old: list[Turn] = []
    new: list[Turn] = []
    for chunk in _batches(leads):
        resumed = await _resume(session, chunk)
        old += resumed.old_turns
        new += resumed.new_turns
        outdated_written, outdated_replied = reply_counts(resumed.old_marks, start, end)
        live_written, live_replied = reply_counts(resumed.new_marks, start, end)
        written += live_written - outdated_written
        replied += live_replied - outdated_replied
    return PeriodTurns(True, old, new, (written, replied))


def _batches(leads: dict[str, _Lead]) -> list[dict[str, _Lead]]:
    ordered = sorted(leads)
    return [
        {lead_id: leads[lead_id] for lead_id in ordered[offset : offset + BATCH]}
        for offset in range(0, len(ordered), BATCH)
    ]


async def period_turns(
    session: AsyncSession, found: PeriodTurns, start: datetime, end: datetime
) -> list[Turn]:
    """Every turn started in the period, one by one (the definitions' figures are theirs:
    ``ovenai.kpis._summarised``)."""
    turns = {t.message_id: t for t in found.new if start <= t.turn_at < end}
    if found.kept:
        gone = {t.message_id for t in found.old}
        query = select(*_TURN_COLUMNS).where(
            ResponseTurn.turn_at >= start, ResponseTurn.turn_at < end
        )
        for row in await session.execute(query):
            if row[0] not in gone:
                turns.setdefault(row[0], Turn(*row))
    return list(turns.values())


@dataclass(frozen=True)
class Counted:
    """What a run of the job counted again: how many leads, from how many messages."""

    leads: int
    messages: int


async def _recount(
    session: AsyncSession, leads: dict[str, _Lead], started: datetime, *, keep_hours: bool
) -> int:
    """Count these leads' turns and marks again from where they may have changed
    (:func:`_resume`) and write what differs; how many messages were read. With
    ``keep_hours``, the hours of the turns that changed are counted again too
    (``ovenai.turn_hours``), in the same transaction."""
    resumed = await _resume(session, leads)
    old_turns, new_turns = set(resumed.old_turns), set(resumed.new_turns)
    gone = [turn.message_id for turn in resumed.old_turns if turn not in new_turns]
    added = [turn for turn in resumed.new_turns if turn not in old_turns]
    old_marks, new_marks = set(resumed.old_marks), set(resumed.new_marks)
    gone_marks = [mark.message_id for mark in resumed.old_marks if mark not in new_marks]
    added_marks = [mark for mark in resumed.new_marks if mark not in old_marks]
    for offset in range(0, len(gone), MARKS_PER_INSERT):
        chunk = gone[offset : offset + MARKS_PER_INSERT]
        await session.execute(delete(ResponseTurn).where(ResponseTurn.message_id.in_(chunk)))
    for offset in range(0, len(gone_marks), MARKS_PER_INSERT):
        chunk = gone_marks[offset : offset + MARKS_PER_INSERT]
        await session.execute(delete(ReplyMark).where(ReplyMark.message_id.in_(chunk)))
    if added:
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
                for turn in added
            ],
        )
    # One statement a chunk, not one a row: the triggers that keep reply_mark_hours run
    # once per statement on PostgreSQL (ovenai.reply_hours).
    for offset in range(0, len(added_marks), MARKS_PER_INSERT):
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
                    for mark in added_marks[offset : offset + MARKS_PER_INSERT]
                ]
            )
        )
    await session.execute(
        delete(ResponseTurnsStale).where(
            ResponseTurnsStale.lead_id.in_(sorted(leads)),
            ResponseTurnsStale.marked_at <= started,
        )
    )
    if keep_hours:
        await turn_hours.apply(session, resumed.old_turns, resumed.new_turns)
    return resumed.messages


async def refresh(db: Database) -> Counted:
    """Count again the turns and reply marks of the leads written since the last run, each
    from where it may have changed (every lead from its first message on the first run);
    how many leads and messages. Each batch of leads is one transaction; a failed run
    leaves the progress where it was, so the next counts them. Then the kept hours of the
    turns' waits (``ovenai.turn_hours``): kept batch by batch once counted; counted whole
    after the first run."""
    started = utcnow()
    async with db.session() as session:
        progress = await session.get(ResponseTurnsProgress, PROGRESS)
        if progress is None:
            leads = {
                lead_id: _Lead(None)
                for lead_id in await session.scalars(select(Message.lead_id).distinct())
            }
            # Every turn is written again: the kept hours are counted afterwards.
            await session.execute(
                delete(ResponseTurnsProgress).where(
                    ResponseTurnsProgress.name == turn_hours.PROGRESS
                )
            )
            await session.commit()
            keep_hours = False
        else:
            leads = await _changes_since(session, progress.done_until - GRACE)
            keep_hours = await turn_hours.kept(session)
    messages = 0
    for chunk in _batches(leads):
        async with db.session() as session:
            messages += await _recount(session, chunk, started, keep_hours=keep_hours)
            await session.commit()
    async with db.session() as session:
        upsert = dialects.insert(session, ResponseTurnsProgress).values(
            name=PROGRESS, done_until=started
        )
        await session.execute(
            upsert.on_conflict_do_update(index_elements=["name"], set_={"done_until": started})
        )
        await session.commit()
    if leads:
        log.info(
            "counted the turns and reply marks of %d leads again, from %d messages",
            len(leads),
            messages,
        )
    if keep_hours and progress is not None:
        await turn_hours.compact(db, turn_hours.due(progress.done_until, started))
    await turn_hours.refresh(db)
    return Counted(len(leads), messages)


async def mark_stale(session: AsyncSession, lead_ids: Iterable[str]) -> None:
    """These leads' turns and marks must be counted again (their messages were deleted)."""
    now = utcnow()
    for lead_id in sorted(set(lead_ids)):
        upsert = dialects.insert(session, ResponseTurnsStale).values(lead_id=lead_id, marked_at=now)
        await session.execute(
            upsert.on_conflict_do_update(index_elements=["lead_id"], set_={"marked_at": now})
        )
