"""Leads' turns and their first responses, kept for the key figures (ovenai.kpis).

The definition is the key figures' (docs/architecture.md "Key figures"): a lead's *turn*
starts with an inbound message that follows a message a person sent, or starts the
conversation; its first response is the next message a person (not automation) sent to
that lead. "Follows" and "next" are in the order of the lead's inbound and person-sent
messages by (``created_at``, ``id``); automation's messages are not in that order.

Counting them for a period used to be a window over every message of the leads active in
it (seconds at a million messages). They are kept in ``response_turns`` instead, one row
per turn, and a period's turns are an indexed range of it:

* The worker's ``kpis.turns`` job (every minute) counts again, from all their messages,
  the leads one of whose inbound or person-sent messages was written since its last run
  less ``GRACE`` (found by id: ids are time-ordered, made when the row is written; an
  inbound message's ``created_at`` and ``updated_at`` are Meta's time, however late the
  webhook came), and those retention marked stale; then it records when it started
  (``response_turns_progress``). Its first run counts every lead. A turn depends only on
  its messages' lead, direction, sender and ``created_at``, never changed once written.
* The key figures take the kept turns of every other lead, and count those leads live, so
  a report is exact at once, not a minute later. Until the job's first run, every lead
  is counted live.
* An erased lead keeps its messages (blanked), so its turns stay; a deleted lead's turns
  go with it, and so does a turn whose inbound message retention deleted. Retention marks
  the leads it took messages from stale (``mark_stale``): the first message left may now
  start a turn.

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

from sqlalchemy import ColumnElement, Select, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import Message, ResponseTurn, ResponseTurnsProgress, ResponseTurnsStale

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=10)
EVERY_S = 60.0
LEASE_S = 1800.0  # the first run counts every lead's messages
BATCH = 500  # leads counted again per transaction
PROGRESS = "turns"


@dataclass(frozen=True)
class Turn:
    """A lead's turn: its first inbound message, and the first person's answer (if any)."""

    message_id: str
    lead_id: str
    turn_at: datetime
    reply_at: datetime | None
    replied_by_id: str | None


def _person_or_lead() -> ColumnElement[bool]:
    return or_(Message.direction == "in", Message.sent_by_id.is_not(None))


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
            if direction == "in":
                if previous != "in":
                    waiting = (message_id, at)
            elif waiting is not None:
                close(Turn(waiting[0], lead_id, waiting[1], at, sent_by))
                waiting = None
            previous = direction
        if waiting is not None:
            close(Turn(waiting[0], lead_id, waiting[1], None, None))
    return turns


async def _count_live(session: AsyncSession, leads: ColumnElement[bool]) -> list[Turn]:
    """Every turn of the leads ``leads`` selects, from their messages."""
    query = (
        select(
            Message.lead_id,
            Message.id,
            Message.direction,
            Message.created_at,
            Message.sent_by_id,
        )
        .where(_person_or_lead(), leads)
        .order_by(Message.lead_id, Message.created_at, Message.id)
    )
    return turns_of(await session.execute(query))


def first_id_at(moment: datetime) -> str:
    """The lowest message id made at ``moment`` or later (ids are UUIDv7, made when the row
    is written, led by its milliseconds: ``ovenai.columns.new_id``)."""
    millis = int(moment.timestamp() * 1000)
    return f"{millis >> 16:08x}-{millis & 0xFFFF:04x}-0000-0000-000000000000"


def _touched_since(moment: datetime) -> Any:
    """Leads with an inbound or person-sent message written since ``moment`` (by its id:
    a message's ``created_at`` is Meta's time for an inbound one, however late it came, and
    none of the columns turns depend on changes after the row is written), or stale."""
    written = select(Message.lead_id).where(_person_or_lead(), Message.id >= first_id_at(moment))
    return written.union(select(ResponseTurnsStale.lead_id))


@dataclass(frozen=True)
class PeriodTurns:
    """A period's turns: those of ``live`` leads counted from their messages, the others'
    kept in ``response_turns`` (``kept``: their query; None: none kept yet)."""

    live: list[Turn]
    kept: Select[str, str, datetime, datetime | None, str | None] | None


async def in_period(session: AsyncSession, start: datetime, end: datetime) -> PeriodTurns:
    """The turns started in the period (``start`` inclusive, ``end`` exclusive): the kept
    ones, and those of leads written since the job's last run counted live."""
    progress = await session.get(ResponseTurnsProgress, PROGRESS)
    if progress is None:  # never counted: every lead that wrote in the period, live
        active = select(Message.lead_id).where(
            Message.direction == "in", Message.created_at >= start, Message.created_at < end
        )
        counted = await _count_live(session, Message.lead_id.in_(active.distinct()))
        return PeriodTurns([turn for turn in counted if start <= turn.turn_at < end], None)
    dirty = sorted(set(await session.scalars(_touched_since(progress.done_until - GRACE))))
    kept = select(
        ResponseTurn.message_id,
        ResponseTurn.lead_id,
        ResponseTurn.turn_at,
        ResponseTurn.reply_at,
        ResponseTurn.replied_by_id,
    ).where(ResponseTurn.turn_at >= start, ResponseTurn.turn_at < end)
    live: list[Turn] = []
    for offset in range(0, len(dirty), BATCH):
        chunk = dirty[offset : offset + BATCH]
        kept = kept.where(ResponseTurn.lead_id.not_in(chunk))
        live += await _count_live(session, Message.lead_id.in_(chunk))
    return PeriodTurns([turn for turn in live if start <= turn.turn_at < end], kept)


async def _recount(session: AsyncSession, lead_ids: list[str], started: datetime) -> int:
    """Count these leads' turns again from their messages; how many turns they have."""
    turns = await _count_live(session, Message.lead_id.in_(lead_ids))
    await session.execute(delete(ResponseTurn).where(ResponseTurn.lead_id.in_(lead_ids)))
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
    await session.execute(
        delete(ResponseTurnsStale).where(
            ResponseTurnsStale.lead_id.in_(lead_ids), ResponseTurnsStale.marked_at <= started
        )
    )
    return len(turns)


async def refresh(db: Database) -> int:
    """Count again the turns of the leads written since the last run (every lead on the
    first run); how many leads were counted."""
    started = utcnow()
    async with db.session() as session:
        progress = await session.get(ResponseTurnsProgress, PROGRESS)
        if progress is None:
            leads = select(Message.lead_id).where(_person_or_lead()).distinct()
        else:
            leads = _touched_since(progress.done_until - GRACE)
        lead_ids = sorted(set(await session.scalars(leads)))
    for offset in range(0, len(lead_ids), BATCH):
        async with db.session() as session:
            await _recount(session, lead_ids[offset : offset + BATCH], started)
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
        log.info("counted the turns of %d leads again", len(lead_ids))
    return len(lead_ids)


async def mark_stale(session: AsyncSession, lead_ids: Iterable[str]) -> None:
    """These leads' turns must be counted again (their messages were deleted)."""
    now = utcnow()
    for lead_id in sorted(set(lead_ids)):
        upsert = dialects.insert(session, ResponseTurnsStale).values(lead_id=lead_id, marked_at=now)
        await session.execute(
            upsert.on_conflict_do_update(index_elements=["lead_id"], set_={"marked_at": now})
        )
