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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select

from ovenai import scheduler
from ovenai.automation.definitions import RuleDefinition
from ovenai.automation.engine import Event, LoadedRule, Setup, enabled_rules, run_rule
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import Lead, Meeting, MeetingStatus

PASSED_LOOKBACK = timedelta(days=3)
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
    return report


def _timed(definition: RuleDefinition) -> bool:
    return definition.trigger.kind in ("meeting_day_before", "meeting_passed")


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
