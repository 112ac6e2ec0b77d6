"""Key figures over any period, from the database: what was sent and what became of it,
which templates carry the traffic, how fast webhooks are applied, who answers, how fast.

Every rate names its denominator (docs/architecture.md "Key figures"):

* **The outbound cohort** of a period: our messages whose first outcome falls in it, i.e.
  accepted by Meta (``sent_at``) in the period, or failed without ever being accepted
  (``failed_at``). Queued messages are not in any cohort yet.
* **Delivered**: the message's status is ``delivered`` or ``read`` (a message read without a
  "delivered" status counts as delivered: Meta's statuses arrive in any order and "read"
  implies delivery). **Read**: status ``read``. **Failed**: status ``failed`` — refused at
  the send or failed afterwards by a status webhook. A message to someone who blocked the
  business stays ``sent`` forever (Meta says nothing more): it counts in the cohort and in
  neither delivered nor failed, so such numbers lower the delivery rate rather than vanish.
  Rates are of the whole cohort, so delivered + failed + still "sent" add up to it.
* **Lead reply rate**: of the leads in the cohort (accepted messages only), those who wrote
  to us after our first accepted message of the period, before the period's end.
* **First response**: a lead's *turn* starts with an inbound message that follows a message
  of ours sent by a person (or starts the conversation); its first response is the next
  message a person (not automation) sent to that lead. Turns started in the period are
  counted; those not answered yet are counted apart.
* **Webhook processing**: from a body's arrival to its being applied, of the bodies received
  in the period; the median and 95th percentile within 1 % (``ovenai.duration_buckets``).
* **Graph API response time**: from a request to Meta's answer (or the failure: a timeout
  counts its whole wait), of every Graph API call whose hour starts in the period, by any
  process (``ovenai.graph_times``); the median and 95th percentile within 1 %.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    func,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import (
    cohort_hours,
    dialects,
    duration_buckets,
    graph_times,
    response_turns,
    turn_hours,
    webhook_hours,
)
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.errors import InvalidInput, PermissionDenied
from ovenai.models import Direction, Message, User
from ovenai.templates.registry import family_of

MAX_PERIOD = timedelta(days=366)
WORK_MEM = "64MB"  # PostgreSQL, for one report's transaction only
# The refusals of a period, one fixed sentence each (the dashboard translates them).
PERIOD_NEEDS_ZONE = "give times with their zone (e.g. 2026-12-01T00:00:00+02:00)"
PERIOD_BACKWARDS = "the period must end after it starts"
PERIOD_TOO_LONG = "the period may span at most 366 days"
TOP_ERRORS = 5
SLOWEST = 5
DELIVERED = ("delivered", "read")


@dataclass(frozen=True)
class ErrorShare:
    """One of Meta's error codes among the cohort's failures."""

    code: int | None
    title: str | None
    count: int


@dataclass(frozen=True)
class TemplateUsage:
    """A template family's share of the cohort's template messages, and what became of them."""

    family: str
    sent: int
    share: float
    delivered_rate: float
    read_rate: float


@dataclass(frozen=True)
class Timing:
    """Durations in seconds: how many, mean, median, 95th percentile, slowest."""

    count: int = 0
    mean_s: float | None = None
    median_s: float | None = None
    p95_s: float | None = None
    max_s: float | None = None

    @classmethod
    def of(cls, values: list[float]) -> Timing:
        """The summary of these durations (nothing when there are none)."""
        if not values:
            return cls()
        ordered = sorted(values)
        return cls(
            count=len(ordered),
            mean_s=round(statistics.fmean(ordered), 3),
            median_s=round(statistics.median(ordered), 3),
            p95_s=round(_percentile(ordered, 0.95), 3),
            max_s=round(ordered[-1], 3),
        )

    @classmethod
    def summarised(cls, summary: duration_buckets.Summary | None) -> Timing:
        """The summary of bucketed durations (``ovenai.duration_buckets``) as a timing."""
        if summary is None:
            return cls()
        return cls(
            count=summary.count,
            mean_s=round(summary.mean, 3),
            median_s=round(summary.median, 3),
            p95_s=round(summary.p95, 3),
            max_s=round(summary.most, 3),
        )


@dataclass(frozen=True)
class AgentResponse:
    """One agent's first responses in the period."""

    email: str
    timing: Timing


@dataclass(frozen=True)
class SlowResponse:
    """A lead's turn and how long until a person answered (None: not answered yet)."""

    lead_id: str
    turn_at: datetime
    waited_s: float | None


@dataclass(frozen=True)
class FirstResponses:
    """Agents' first responses to the turns leads started in the period."""

    turns: int = 0
    answered: Timing = field(default_factory=Timing)
    unanswered: int = 0
    by_agent: list[AgentResponse] = field(default_factory=list)
    slowest: list[SlowResponse] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    """Every key figure of one period (``start`` inclusive, ``end`` exclusive)."""

    start: datetime
    end: datetime
    cohort: int
    delivered: int
    read: int
    failed: int
    still_sent: int
    delivery_rate: float | None
    read_rate: float | None
    failure_rate: float | None
    top_errors: list[ErrorShare]
    templates: list[TemplateUsage]
    leads_written: int
    leads_replied: int
    reply_rate: float | None
    webhook_processing: Timing
    first_responses: FirstResponses
    graph_api: Timing = field(default_factory=Timing)
    graph_api_failed: int = 0


def days_period(first: date, last: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The period from the start of ``first`` to the end of ``last``, as days in ``zone``."""
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def last_days(now: datetime, days: int, zone: tzinfo) -> tuple[datetime, datetime]:
    """The ``days`` days up to and including today in ``zone``."""
    today = now.astimezone(zone).date()
    return days_period(today - timedelta(days=days - 1), today, zone)


@dataclass(frozen=True)
class Day:
    """One day's outbound cohort (for the metrics page's chart)."""

    day: date
    cohort: int
    delivered: int
    read: int
    failed: int


MAX_DAILY = 92  # days a daily chart covers at most (one pair of indexed queries per day)


async def daily(
    db: Database, *, actor: Actor, start: datetime, end: datetime, zone: tzinfo
) -> list[Day]:
    """The cohort of each day of the period in ``zone`` (at most MAX_DAILY days: the last)."""
    if not actor.is_admin:
        raise PermissionDenied("only admins see the agency's key figures")
    check_period(start, end)
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    first = max(first, last - timedelta(days=MAX_DAILY - 1))
    days: list[Day] = []
    async with db.reading() as session:
        kept = await cohort_hours.kept(session)
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            day_start, day_end = days_period(day, day, zone)
            counts = await cohort_hours.counts(
                session, max(start, day_start), min(end, day_end), kept
            )
            days.append(
                Day(
                    day=day,
                    cohort=sum(counts.values()),
                    delivered=sum(n for (st, _t, _c), n in counts.items() if st in DELIVERED),
                    read=sum(n for (st, _t, _c), n in counts.items() if st == "read"),
                    failed=sum(n for (st, _t, _c), n in counts.items() if st == "failed"),
                )
            )
    return days


def _percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted values."""
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil, at least the first
    return ordered[int(rank) - 1]


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def check_period(start: datetime, end: datetime) -> None:
    """InvalidInput unless the period runs forward and spans at most a year."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput(PERIOD_NEEDS_ZONE)
    if end <= start:
        raise InvalidInput(PERIOD_BACKWARDS, field="end")
    if end - start > MAX_PERIOD:
        raise InvalidInput(PERIOD_TOO_LONG, field="start")


def _in(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    """``start <= column < end``."""
    return and_(column >= start, column < end)


async def _error_titles(
    session: AsyncSession, codes: list[int], start: datetime, end: datetime
) -> dict[int, str]:
    if not codes:
        return {}
    query = (
        select(Message.error_code, func.max(Message.error_title))
        .where(Message.direction == Direction.OUTBOUND, Message.error_code.in_(codes))
        .where(_in(Message.failed_at, start, end))
        .group_by(Message.error_code)
    )
    return {code: title for code, title in await session.execute(query) if code and title}


def _templates(counts: Counter[tuple[str, str, int | None]]) -> list[TemplateUsage]:
    sent: Counter[str] = Counter()
    delivered: Counter[str] = Counter()
    read: Counter[str] = Counter()
    for (status, template, _code), count in counts.items():
        if not template:
            continue
        family = family_of(template)
        sent[family] += count
        delivered[family] += count if status in DELIVERED else 0
        read[family] += count if status == "read" else 0
    total = sum(sent.values())
    return [
        TemplateUsage(
            family=family,
            sent=count,
            share=round(count / total, 4),
            delivered_rate=round(delivered[family] / count, 4),
            read_rate=round(read[family] / count, 4),
        )
        for family, count in sorted(sent.items(), key=lambda item: (-item[1], item[0]))
    ]


async def _replies(session: AsyncSession, start: datetime, end: datetime) -> tuple[int, int]:
    """(leads written to in the period, of them those who wrote back before its end).

    A lead replied when its last inbound message of the period came after our first accepted
    message of the period: two grouped scans of the period, joined by lead. Only until the
    worker's first ``kpis.turns`` run: then they are counted from ``reply_marks``
    (ovenai.response_turns).
    """
    first = (
        select(Message.lead_id, func.min(Message.sent_at).label("first_at"))
        .where(Message.direction == Direction.OUTBOUND, _in(Message.sent_at, start, end))
        .group_by(Message.lead_id)
        .subquery()
    )
    last = (
        select(Message.lead_id, func.max(Message.created_at).label("last_at"))
        .where(Message.direction == Direction.INBOUND, _in(Message.created_at, start, end))
        .group_by(Message.lead_id)
        .subquery()
    )
    replied = func.count().filter(last.c.last_at > first.c.first_at)
    query = select(func.count(), replied).select_from(
        first.outerjoin(last, last.c.lead_id == first.c.lead_id)
    )
    written, answered = (await session.execute(query)).one()
    return int(written or 0), int(answered or 0)


async def _webhook_timing(session: AsyncSession, start: datetime, end: datetime) -> Timing:
    """The processing times of the bodies received in the period, summarised from their
    log-spaced buckets (``ovenai.duration_buckets``: the median and 95th percentile within
    1 %; count, mean and slowest exact), kept by hour (``ovenai.webhook_hours``)."""
    buckets = await webhook_hours.buckets(session, start, end, await webhook_hours.kept(session))
    return Timing.summarised(duration_buckets.summarise(buckets))


async def _first_responses(
    session: AsyncSession, start: datetime, end: datetime, found: response_turns.PeriodTurns
) -> FirstResponses:
    """Turns leads started in the period, and when a person first answered each: the
    counts, mean and longest exact, the median and 95th percentile read off log-spaced
    buckets (within 1 %, ``ovenai.duration_buckets``) kept by hour and agent
    (``ovenai.turn_hours``), the turns read one by one only at the period's edges and where
    the kept ones are outdated. Before the worker's first ``kpis.turns`` run, every turn
    is counted from the messages and summarised exactly (:func:`_summarised`)."""
    if not found.kept:
        return await _summarised(session, [t for t in found.new if start <= t.turn_at < end])
    period = await turn_hours.tally(session, start, end, old=list(found.old), new=list(found.new))
    tally = period.tally
    answered = tally.answered
    slowest = [
        SlowResponse(lead_id, turn_at, None)
        for turn_at, lead_id in await turn_hours.oldest_unanswered(session, period, SLOWEST)
    ]
    if len(slowest) < SLOWEST:  # few unanswered: the longest answered waits follow
        slowest += [
            SlowResponse(lead_id, turn_at, wait)
            for wait, turn_at, lead_id in await turn_hours.longest_answered(
                session, period, SLOWEST - len(slowest)
            )
        ]
    agents = {
        agent: Timing.summarised(duration_buckets.summarise(buckets.values()))
        for agent, buckets in tally.by_agent.items()
        if any(bucket.count for bucket in buckets.values())
    }
    emails = await _emails(session, [agent for agent in agents if agent is not None])
    return FirstResponses(
        turns=answered + tally.unanswered,
        answered=Timing.summarised(duration_buckets.summarise(tally.overall())),
        unanswered=tally.unanswered,
        by_agent=sorted(
            (AgentResponse(emails.get(agent or "", "?"), t) for agent, t in agents.items()),
            key=lambda item: item.email,
        ),
        slowest=slowest,
    )


async def _summarised(session: AsyncSession, turns: list[response_turns.Turn]) -> FirstResponses:
    """The first responses of these turns, summarised in Python (the definitions)."""
    waits: list[float] = []
    by_agent: defaultdict[str | None, list[float]] = defaultdict(list)
    slow: list[SlowResponse] = []
    unanswered = 0
    for turn in turns:
        if turn.reply_at is None:
            unanswered += 1
            slow.append(SlowResponse(turn.lead_id, turn.turn_at, None))
            continue
        waited = (turn.reply_at - turn.turn_at).total_seconds()
        waits.append(waited)
        by_agent[turn.replied_by_id].append(waited)
        slow.append(SlowResponse(turn.lead_id, turn.turn_at, waited))
    emails = await _emails(session, [agent for agent in by_agent if agent is not None])
    slow.sort(key=lambda item: (item.waited_s is not None, -(item.waited_s or 0), item.turn_at))
    return FirstResponses(
        turns=len(turns),
        answered=Timing.of(waits),
        unanswered=unanswered,
        by_agent=sorted(
            (
                AgentResponse(emails.get(agent or "", "?"), Timing.of(v))
                for agent, v in by_agent.items()
            ),
            key=lambda item: item.email,
        ),
        slowest=slow[:SLOWEST],
    )


async def _emails(session: AsyncSession, user_ids: list[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    query = select(User.id, User.email).where(User.id.in_(user_ids))
    return {user_id: email for user_id, email in await session.execute(query)}


async def report(db: Database, *, actor: Actor, start: datetime, end: datetime) -> Report:
    """The key figures of the period; admins only (they span every agent's leads)."""
    if not actor.is_admin:
        raise PermissionDenied("only admins see the agency's key figures")
    check_period(start, end)
    async with db.reading() as session:
        if dialects.is_postgresql(session):
            # One snapshot for every statement: the kept hours, the kept turns and the ones
            # counted live must see the same run of the job (a run's commit between two of
            # them would count its turns twice, ovenai.turn_hours). SQLite's reads are one.
            await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            # Grouping and sorting a month of messages: in memory, not in temporary files.
            await session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
            # Compiling a report's few queries to machine code cost more than it saved
            # (15-200 ms a query at a million messages, EXPLAIN ANALYZE of 6 Dec 2026).
            await session.execute(text("SET LOCAL jit = off"))
        counts = await cohort_hours.counts(session, start, end, await cohort_hours.kept(session))
        codes = Counter[int | None]()
        for (status, _template, code), count in counts.items():
            if status == "failed":
                codes[code] += count
        titles = await _error_titles(session, [c for c in codes if c is not None], start, end)
        found = await response_turns.in_period(session, start, end)
        written, replied = found.replies or await _replies(session, start, end)
        webhooks = await _webhook_timing(session, start, end)
        responses = await _first_responses(session, start, end, found)
        graph, graph_failed = await graph_times.summary(session, start, end)
    cohort = sum(counts.values())
    delivered = sum(n for (status, _t, _c), n in counts.items() if status in DELIVERED)
    read = sum(n for (status, _t, _c), n in counts.items() if status == "read")
    failed = sum(codes.values())
    still_sent = sum(n for (status, _t, _c), n in counts.items() if status == "sent")
    return Report(
        start=start,
        end=end,
        cohort=cohort,
        delivered=delivered,
        read=read,
        failed=failed,
        still_sent=still_sent,
        delivery_rate=_rate(delivered, cohort),
        read_rate=_rate(read, cohort),
        failure_rate=_rate(failed, cohort),
        top_errors=[
            ErrorShare(code, titles.get(code) if code is not None else None, count)
            # Ties by code (not by the rows' order, which the query's plan decides).
            for code, count in sorted(
                codes.items(), key=lambda item: (-item[1], item[0] is None, item[0] or 0)
            )[:TOP_ERRORS]
        ],
        templates=_templates(counts),
        leads_written=written,
        leads_replied=replied,
        reply_rate=_rate(replied, written),
        webhook_processing=webhooks,
        first_responses=responses,
        graph_api=Timing.summarised(graph),
        graph_api_failed=graph_failed,
    )
