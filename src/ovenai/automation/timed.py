"""The rules that time starts: a viewing tomorrow, a viewing that has passed.

The worker's job ``automation.timed`` (every minute, one worker by its lease) looks for the
meetings each enabled timed rule is about and runs the rule for each, one transaction a
meeting, under the engine's guards (:mod:`ovenai.automation.engine`):

- ``meeting_day_before`` (``hour``, in ``OVENAI_TIMEZONE``): from that hour on, the
  viewings of *tomorrow* (local dates) that are proposed or confirmed. A run that comes
  later — the worker was down all evening — finds those viewings today, not tomorrow, and
  sends nothing: the reminder says "tomorrow" (``meeting_reminder_*``: "מחר"), so it goes
  the day before or not at all. A cancelled viewing is never reminded. The event is
  ``meeting:<id>:day_before:<date>``, so a viewing moved to another day is reminded again
  for its new day, once; a sent reminder sets ``meetings.reminder_sent_at``.
- ``meeting_passed`` (``hours_after``): viewings (not cancelled, not a no-show) that ended
  at least that long ago, within the last :data:`PASSED_LOOKBACK` (a rule added today does
  not act on last year's viewings); the event is ``meeting:<id>:passed``.
- ``no_reply`` (``days``): leads we wrote to (a message Meta accepted) who have not
  written since, whose first such message is at least ``days`` old (and at most
  :data:`SILENCE_LOOKBACK` older than that: a new rule does not wake last year's leads).
  The event is ``no_reply:<the lead's last inbound time>``: once per silence — an answer
  starts a new one, our further messages do not. Each run reads only the messages whose
  age crossed ``days`` since the rule's last complete run (its mark in ``system_flags``,
  :data:`NO_REPLY_MARK`; a new rule, or a new ``days``, starts with the lookback): an index
  range of about a minute's sends, where grouping every message ever sent cost 3 s a
  minute at a million messages (EXPLAIN ANALYZE, 7 Dec 2026) and grew with the data.

The same job runs the due steps of the follow-up sequences (:mod:`.sequences`), one
transaction an enrolment: the lead's state is checked first (answered, opted out, another
stage: the sequence stops and the log says why), then the step is sent under the engine's
guards and the enrolment moves on to its next step, or ends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ovenai import dialects, scheduler
from ovenai.automation import sequences
from ovenai.automation.definitions import TIMED_TRIGGERS, RuleDefinition, parse_definition
from ovenai.automation.engine import (
    Event,
    Firing,
    LoadedRule,
    Setup,
    enabled_rules,
    log_firing,
    run_rule,
    run_sequence_step,
)
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import OvenAIError
from ovenai.models import (
    AutomationRule,
    Direction,
    Lead,
    Meeting,
    MeetingStatus,
    Message,
    SequenceEnrolment,
    SystemFlag,
)

PASSED_LOOKBACK = timedelta(days=3)
SILENCE_LOOKBACK = timedelta(days=14)
NO_REPLY_MARK = "automation.no_reply:"  # + rule id:days → the send time looked up to
_TICK = timedelta(microseconds=1)  # the lookback's first instant is in the band
_UPCOMING = (MeetingStatus.PROPOSED, MeetingStatus.CONFIRMED)
_HELD = (MeetingStatus.PROPOSED, MeetingStatus.CONFIRMED, MeetingStatus.DONE)


@dataclass
class TimedReport:
    """How many rules ran for how many meetings, and how many of those sent something."""

    fired: int = 0
    sent: int = 0


async def run_timed(db: Database, setup: Setup, *, now: datetime | None = None) -> TimedReport:
    """Run every enabled timed rule for the meetings it is about now."""
    at = now or utcnow()
    async with db.session() as session:
        rules = [rule for rule in await enabled_rules(session) if _timed(rule.definition)]
    report = TimedReport()
    for rule in rules:
        trigger = rule.definition.trigger
        if trigger.kind == "meeting_day_before":
            day = _tomorrow(at, setup, trigger.hour)
            if day is None:
                continue
            start, end = day
            found = await _meetings(db, _UPCOMING, start, end)
            key = f"day_before:{start.astimezone(setup.zone).date().isoformat()}"
        elif trigger.kind == "no_reply":
            newest = at - timedelta(days=trigger.days)
            mark = f"{NO_REPLY_MARK}{rule.id}:{trigger.days}"
            after = await _looked_up_to(db, mark, newest - SILENCE_LOOKBACK - _TICK)
            for lead_id, since in await _silent(db, after, newest):
                await _fire_lead(db, setup, rule, lead_id, f"no_reply:{since}", at, report)
            await _look_up_to(db, mark, newest)  # only once every silent lead had its run
            continue
        else:
            ended_before = at - timedelta(hours=trigger.hours_after)
            found = [
                meeting_id
                for meeting_id, starts_at, minutes in await _recent(db, at)
                if starts_at + timedelta(minutes=minutes) <= ended_before
            ]
            key = "passed"
        for meeting_id in found:
            await _fire(db, setup, rule, meeting_id, key, at, report)
    for enrolment_id in await sequences.due(db, at):
        await _step(db, setup, enrolment_id, at, report)
    return report


def _timed(definition: RuleDefinition) -> bool:
    return definition.trigger.kind in TIMED_TRIGGERS


def _tomorrow(at: datetime, setup: Setup, hour: int) -> tuple[datetime, datetime] | None:
    """Tomorrow's bounds (local midnight to midnight, as aware times) once ``hour`` has come
    today; None before it."""
    local = at.astimezone(setup.zone)
    if local.hour < hour:
        return None
    tomorrow = local.date() + timedelta(days=1)
    start = datetime.combine(tomorrow, time(0), tzinfo=setup.zone)
    end = datetime.combine(tomorrow + timedelta(days=1), time(0), tzinfo=setup.zone)
    return start, end


async def _meetings(
    db: Database, statuses: tuple[str, ...], start: datetime, end: datetime
) -> list[str]:
    async with db.session() as session:
        query = select(Meeting.id).where(
            Meeting.status.in_(statuses), Meeting.starts_at >= start, Meeting.starts_at < end
        )
        return list(await session.scalars(query.order_by(Meeting.starts_at)))


async def _recent(db: Database, at: datetime) -> list[tuple[str, datetime, int]]:
    async with db.session() as session:
        query = select(Meeting.id, Meeting.starts_at, Meeting.duration_minutes).where(
            Meeting.status.in_(_HELD),
            Meeting.starts_at >= at - PASSED_LOOKBACK,
            Meeting.starts_at < at,
        )
        return [(row[0], row[1], row[2]) for row in (await session.execute(query)).all()]


async def _fire(
    db: Database,
    setup: Setup,
    rule: LoadedRule,
    meeting_id: str,
    key: str,
    at: datetime,
    report: TimedReport,
) -> None:
    """Run one rule for one meeting in a transaction of its own."""
    async with db.session() as session:
        meeting = await session.get(Meeting, meeting_id, with_for_update=True)
        if meeting is None:
            return
        lead = await session.get(Lead, meeting.lead_id)
        if lead is None or lead.erased_at is not None:
            return
        happened = Event(
            key=f"meeting:{meeting.id}:{key}", trigger=rule.definition.trigger.kind, at=at
        )
        firing = await run_rule(session, setup, rule, lead, happened, meeting=meeting)
        if firing is not None:
            report.fired += 1
            if firing.message_id is not None:
                report.sent += 1
                if rule.definition.trigger.kind == "meeting_day_before":
                    meeting.reminder_sent_at = at
        await session.commit()


@scheduler.every("automation.timed", seconds=60)
async def timed_rules(ctx: scheduler.JobContext) -> None:
    """The worker's job: the timed rules, once a minute."""
    await run_timed(ctx.db, Setup.from_settings(ctx.settings, ctx.db.vault))


async def _silent(db: Database, after: datetime, newest: datetime) -> list[tuple[str, str]]:
    """(lead id, silence key) of the leads whose first message from us since they last
    wrote was accepted after ``after`` and at ``newest`` at the latest: one of their
    messages since then lies in that band (an index range on outbound ``sent_at``) and none
    lies before it."""
    earlier = aliased(Message)
    started_before = exists().where(
        earlier.lead_id == Lead.id,
        earlier.created_at <= after,  # made before it was accepted: the lead's index range
        earlier.direction == Direction.OUTBOUND,
        earlier.sent_at <= after,
        or_(Lead.last_inbound_at.is_(None), earlier.sent_at > Lead.last_inbound_at),
    )
    query = (
        select(Lead.id, Lead.last_inbound_at)
        .join(Message, Message.lead_id == Lead.id)
        .where(
            Message.direction == Direction.OUTBOUND,
            Message.sent_at > after,
            Message.sent_at <= newest,
            or_(Lead.last_inbound_at.is_(None), Message.sent_at > Lead.last_inbound_at),
            Lead.erased_at.is_(None),
            ~started_before,
        )
        .distinct()
    )
    async with db.reading() as session:
        rows = (await session.execute(query)).all()
    return [(row[0], row[1].isoformat(timespec="seconds") if row[1] else "never") for row in rows]


async def _looked_up_to(db: Database, mark: str, floor: datetime) -> datetime:
    """The send time a no-reply rule's silences were looked for up to (never before
    ``floor``, the lookback)."""
    async with db.reading() as session:
        flag = await session.get(SystemFlag, mark)
    if flag is None:
        return floor
    return max(floor, datetime.fromisoformat(flag.value))


async def _look_up_to(db: Database, mark: str, newest: datetime) -> None:
    async with db.session() as session:
        statement = dialects.insert(session, SystemFlag).values(
            name=mark, value=newest.isoformat(), updated_at=utcnow()
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[SystemFlag.name],
                set_={"value": newest.isoformat(), "updated_at": utcnow()},
            )
        )
        await session.commit()


async def _fire_lead(
    db: Database,
    setup: Setup,
    rule: LoadedRule,
    lead_id: str,
    key: str,
    at: datetime,
    report: TimedReport,
) -> None:
    """Run one rule for one lead in a transaction of its own."""
    async with db.session() as session:
        lead = await session.get(Lead, lead_id, with_for_update=True)
        if lead is None or lead.erased_at is not None:
            return
        happened = Event(key=key, trigger=rule.definition.trigger.kind, at=at)
        firing = await run_rule(session, setup, rule, lead, happened)
        _count(report, firing)
        await session.commit()


def _count(report: TimedReport, firing: Firing | None) -> None:
    if firing is not None:
        report.fired += 1
        if firing.message_id is not None:
            report.sent += 1


async def _step(
    db: Database, setup: Setup, enrolment_id: str, at: datetime, report: TimedReport
) -> None:
    """Run an enrolment's due step (or stop it), in a transaction of its own."""
    async with db.session() as session:
        enrolment = await session.get(SequenceEnrolment, enrolment_id, with_for_update=True)
        if enrolment is None or enrolment.stopped_at is not None or enrolment.due_at is None:
            return
        if enrolment.due_at > at:
            return
        rule = await _sequence_rule(session, enrolment.rule_id)
        lead = await session.get(Lead, enrolment.lead_id)
        sequence = sequences.sequence_of(rule.definition) if rule else None
        reason = sequences.why_stop(enrolment, lead)
        if rule is None or sequence is None:
            reason = sequences.RULE_OFF
        if reason is not None or lead is None or rule is None or sequence is None:
            sequences.stop(enrolment, reason or sequences.ERASED)
            if rule is not None and lead is not None and lead.erased_at is None:
                stopped = Firing(outcome="skipped", did=[f"sequence stopped: {reason}"])
                event = Event(key=f"seq:{enrolment.id}:stop", trigger="sequence_step", at=at)
                await log_firing(session, rule, lead, event, stopped)
            await session.commit()
            return
        number = enrolment.next_step
        if number < len(sequence.steps):
            happened = Event(key=f"seq:{enrolment.id}:{number}", trigger="sequence_step", at=at)
            firing = await run_sequence_step(
                session, setup, rule, lead, happened, sequence.steps[number]
            )
            _count(report, firing)
        enrolment.next_step = number + 1
        if enrolment.next_step >= len(sequence.steps):
            sequences.stop(enrolment, sequences.FINISHED)
        else:
            following = sequence.steps[enrolment.next_step]
            enrolment.due_at = sequences.due_after(enrolment.started_at, following)
        await session.commit()


async def _sequence_rule(session: AsyncSession, rule_id: str) -> LoadedRule | None:
    """The enrolment's rule if it is on and readable (else its sequence stops)."""
    row = await session.get(AutomationRule, rule_id)
    if row is None or not row.enabled:
        return None
    try:
        definition = parse_definition(json.loads(row.definition))
    except OvenAIError:
        return None
    return LoadedRule(row.id, row.key, definition)
