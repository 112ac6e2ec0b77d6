"""Alert rules: the conditions an owner must hear about, evaluated every 30 s by one worker.

Each rule measures one figure from the database and holds when it crosses its threshold;
a rule over a rate also needs a minimum volume in its window, so one failure in a quiet
night is not a 100 % error rate. :func:`evaluate` opens the alert of every rule that holds
(:func:`ovenai.alerts.raise_alert`: one open alert per kind), closes the alerts of the rules
that no longer hold, and then queues the notifications of every alert, whoever raised it
(:func:`ovenai.notifiers.queue_notifications`: "fired" once, repeats at most every
``OVENAI_ALERT_REPEAT_MINUTES``, "resolved" when it ends). Nothing is sent here: the worker's
delivery job sends, so a slow notifier never holds an evaluation up.

Messages carry figures only (counts, ages, rates), never personal data, in English and in
Hebrew (:class:`Said`): notifications and the alerts page show the reader's language. The
measures are shared with ``/health`` (:mod:`ovenai.health`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import graph_check, graph_times, key_rotation, kpis, notifiers, webhook_probe
from ovenai.alerts import Said, raise_alert, resolve_alerts
from ovenai.columns import UTCDateTime, utcnow
from ovenai.db import Database
from ovenai.errors import OvenAIError
from ovenai.meta_enums import TemplateStatus
from ovenai.models import Direction, JobLock, Lead, Message, MessageTemplate, SystemFlag
from ovenai.models.privacy import PrivacyRequest
from ovenai.models.webhooks import WebhookEvent
from ovenai.outbox.pause import PAUSE_FLAG, TOKEN_ALERT
from ovenai.settings import Settings
from ovenai.templates.registry import seed_definitions
from ovenai.working_hours import WorkingHours

log = logging.getLogger("ovenai.alert_rules")

EVALUATE_EVERY_S = 30.0
RETENTION_JOB = "retention"  # the worker's daily job; its lease row records its last run
RETENTION_LATE_H = 26  # a daily job two hours late is a job that did not run
KEY_ROTATION_DUE_DAYS = 80  # ten days' notice before the 90-day rotation period ends
PRIVACY_NOTICE_DAYS = 7  # a data-subject request this close to its deadline is reported
# When monitoring first ran: before the retention job has ever run, its 26 hours count
# from here, so a new installation is not reported for a job it has not had time to run.
MONITORING_SINCE_FLAG = "monitoring_since"

# The kinds of the rules' alerts (the token's kind is the pause's own, so the alert
# outbox/pause.py raises and the one this rule keeps are one and the same).
FAILURE_RATE = "outbound_failure_rate"
SENDING_PAUSED = TOKEN_ALERT
OUTBOX_STUCK = "outbox_stuck"
KEY_ROTATION_DUE = "key_rotation_due"
KEY_ROTATION_OVERDUE = "key_rotation_overdue"
PRIVACY_DUE = "privacy_request_due"
PRIVACY_OVERDUE = "privacy_request_overdue"
RETENTION_NOT_RUN = "retention_not_run"
GRAPH_API = graph_check.FLAG
TEMPLATES_NOT_APPROVED = "templates_not_approved"
FIRST_RESPONSE = "first_response_sla"
WEBHOOK_SILENCE = "webhook_silence"
DELIVERY_RATE = "delivery_rate"
GRAPH_SLOW = "graph_api_slow"
SLA_LOOKBACK = timedelta(days=14)  # a lead silent for longer is a lost lead, not a late answer
LOW_QUALITY = ("YELLOW", "RED")  # Meta's template quality ratings below GREEN


@dataclass
class Probe:
    """What a rule may look at: one transaction, the settings, the moment, the key age."""

    session: AsyncSession
    settings: Settings
    now: datetime
    key_age_days: int | None


Check = Callable[[Probe], Awaitable[Said | None]]
"""A rule's check: its message when it holds, else None."""


@dataclass(frozen=True)
class Rule:
    """A kind of alert, its severity, and the check that returns its message when it holds."""

    kind: str
    severity: str
    check: Check


# Measures (shared with /health) ------------------------------------------------------------


async def outbound_outcomes(session: AsyncSession, since: datetime) -> tuple[int, int]:
    """Outbound messages that reached an outcome since ``since``: (attempted, failed)."""
    out = Message.direction == Direction.OUTBOUND
    sent = await session.scalar(
        select(func.count()).where(out, Message.sent_at >= since, Message.failed_at.is_(None))
    )
    failed = await session.scalar(select(func.count()).where(out, Message.failed_at >= since))
    return int(sent or 0) + int(failed or 0), int(failed or 0)


async def oldest_due_at(session: AsyncSession, now: datetime) -> datetime | None:
    """When the longest-waiting queued message became due (None: nothing is due)."""
    query = select(func.min(Message.next_attempt_at, type_=UTCDateTime())).where(
        Message.status == "queued", Message.next_attempt_at <= now
    )
    return await session.scalar(query)


async def queued_counts(session: AsyncSession, now: datetime) -> tuple[int, int]:
    """Queued outbound messages: (due now, waiting for later)."""
    due = Message.next_attempt_at <= now
    query = select(
        func.count().filter(due), func.count().filter(~due | Message.next_attempt_at.is_(None))
    ).where(Message.status == "queued")
    row = (await session.execute(query)).one()
    return int(row[0] or 0), int(row[1] or 0)


async def sending_paused(session: AsyncSession) -> bool:
    """Whether all sending is paused (Meta rejected the access token)."""
    return await session.get(SystemFlag, PAUSE_FLAG) is not None


async def last_retention_run(session: AsyncSession) -> datetime | None:
    """When the worker's retention job last started (its lease row in ``job_locks``)."""
    lock = await session.get(JobLock, RETENTION_JOB)
    return None if lock is None else lock.last_run_at


async def last_webhook_at(session: AsyncSession) -> datetime | None:
    """When the newest stored webhook body arrived."""
    query = select(func.max(WebhookEvent.received_at, type_=UTCDateTime()))
    return await session.scalar(query)


# Rules --------------------------------------------------------------------------------------


async def _failure_rate(probe: Probe) -> Said | None:
    settings = probe.settings
    window = settings.alert_failure_window_minutes
    attempted, failed = await outbound_outcomes(
        probe.session, probe.now - timedelta(minutes=window)
    )
    if attempted < settings.alert_failure_min_messages or attempted == 0:
        return None
    rate = failed / attempted
    if rate <= settings.alert_failure_rate:
        return None
    threshold = settings.alert_failure_rate
    return Said(
        f"{failed} of {attempted} outbound messages failed in the last {window} minutes "
        f"({rate:.1%}; threshold {threshold:.1%}).",
        f"{failed} מתוך {attempted} הודעות יוצאות נכשלו ב-{window} הדקות האחרונות "
        f"({rate:.1%}; הסף {threshold:.1%}).",
    )


async def accepted_outcomes(
    session: AsyncSession, start: datetime, end: datetime
) -> tuple[int, int]:
    """Outbound messages Meta accepted in [start, end): (accepted, delivered). Delivered is
    ``delivered`` or ``read`` (read implies delivery), as the key figures count it."""
    query = select(func.count(), func.count().filter(Message.status.in_(kpis.DELIVERED))).where(
        Message.direction == Direction.OUTBOUND,
        Message.sent_at >= start,
        Message.sent_at < end,
    )
    accepted, delivered = (await session.execute(query)).one()
    return int(accepted or 0), int(delivered or 0)


async def _delivery_rate(probe: Probe) -> Said | None:
    """Of the messages Meta accepted in the window, too few were delivered. The window ends
    ``grace`` minutes ago: a delivery receipt follows its acceptance by seconds to minutes
    (longer for a phone that is off), and the newest messages have not had the time."""
    settings = probe.settings
    end = probe.now - timedelta(minutes=settings.alert_delivery_grace_minutes)
    window = settings.alert_delivery_window_minutes
    accepted, delivered = await accepted_outcomes(
        probe.session, end - timedelta(minutes=window), end
    )
    if accepted < settings.alert_delivery_min_messages:
        return None
    rate = delivered / accepted
    threshold = settings.alert_delivery_rate
    if rate >= threshold:
        return None
    return Said(
        f"{delivered} of {accepted} messages Meta accepted in {window} minutes were delivered "
        f"({rate:.1%}; threshold {threshold:.1%}): blocked numbers, phones off or a quality "
        "problem; see the key figures.",
        f"{delivered} מתוך {accepted} הודעות ש-Meta קיבלה ב-{window} דקות נמסרו "
        f"({rate:.1%}; הסף {threshold:.1%}): מספרים שחסמו, טלפונים כבויים או בעיית איכות; "
        "ראו את מדדי הביצוע.",
    )


async def graph_p95(session: AsyncSession, now: datetime, minutes: int) -> tuple[int, float | None]:
    """The Graph API calls of the last ``minutes`` whole minutes and the one under way: how
    many, and their 95th percentile in seconds (None: no call)."""
    start = now - timedelta(minutes=minutes)
    summary, _failed = await graph_times.summary(
        session,
        start - timedelta(seconds=start.second, microseconds=start.microsecond),
        now,
        span=graph_times.MINUTE,
    )
    return (0, None) if summary is None else (summary.count, summary.p95)


async def _graph_slow(probe: Probe) -> Said | None:
    """Meta's answers have been slow: the 95th percentile of the window's calls is above the
    threshold (the seed's "response time above 5 s")."""
    settings = probe.settings
    window = settings.alert_graph_window_minutes
    calls, p95 = await graph_p95(probe.session, probe.now, window)
    threshold = settings.alert_graph_p95_seconds
    if p95 is None or calls < settings.alert_graph_min_calls or p95 <= threshold:
        return None
    return Said(
        f"Meta's Graph API answered {calls} calls of the last {window} minutes with a 95th "
        f"percentile of {p95:.1f} s (threshold {threshold:.1f} s): sends are slowing down.",
        f"ה-Graph API של Meta ענה ל-{calls} קריאות ב-{window} הדקות האחרונות עם אחוזון 95 "
        f"של {p95:.1f} שניות (הסף {threshold:.1f} שניות): השליחה מואטת.",
    )


async def _sending_paused(probe: Probe) -> Said | None:
    if not await sending_paused(probe.session):
        return None
    return Said(
        "Meta rejected the access token: all sending is paused; queued messages wait. "
        "Configure a valid WHATSAPP_ACCESS_TOKEN and restart the workers.",
        "Meta דחתה את אסימון הגישה: כל השליחה מושהית, וההודעות בתור ממתינות. "
        "יש להגדיר WHATSAPP_ACCESS_TOKEN תקף ולהפעיל מחדש את ה-workers.",
    )


async def _outbox_stuck(probe: Probe) -> Said | None:
    if await sending_paused(probe.session):
        return None  # the pause's own alert says why nothing leaves
    since = await oldest_due_at(probe.session, probe.now)
    limit = probe.settings.alert_outbox_stuck_minutes
    if since is None or probe.now - since < timedelta(minutes=limit):
        return None
    minutes = int((probe.now - since).total_seconds() // 60)
    return Said(
        f"The oldest due outbound message has waited {minutes} minutes (threshold {limit}): "
        "is a worker running?",
        f"ההודעה היוצאת הוותיקה שמועדה הגיע ממתינה {minutes} דקות (הסף {limit}): האם worker פועל?",
    )


async def _key_rotation_due(probe: Probe) -> Said | None:
    age = probe.key_age_days
    period = key_rotation.ROTATION_PERIOD_DAYS
    if age is None or not KEY_ROTATION_DUE_DAYS <= age < period:
        return None
    return Said(
        f"The newest master key is {age} days old: rotate it before day "
        f"{period} (`ovenai keys generate`, then `ovenai keys rotate`).",
        f"מפתח האב החדש ביותר בן {age} ימים: יש להחליף אותו לפני היום ה-{period} "
        "(`ovenai keys generate`, ואחריו `ovenai keys rotate`).",
    )


async def _key_rotation_overdue(probe: Probe) -> Said | None:
    age = probe.key_age_days
    period = key_rotation.ROTATION_PERIOD_DAYS
    if age is None or age < period:
        return None
    return Said(
        f"The newest master key is {age} days old, past the {period}-day rotation period: "
        "`ovenai keys generate`, then `ovenai keys rotate`.",
        f"מפתח האב החדש ביותר בן {age} ימים, מעבר לתקופת ההחלפה של {period} ימים: "
        "`ovenai keys generate`, ואחריו `ovenai keys rotate`.",
    )


async def _open_requests(probe: Probe, *, until: datetime, after: datetime | None) -> int:
    query = select(func.count()).where(
        PrivacyRequest.completed_at.is_(None), PrivacyRequest.due_at < until
    )
    if after is not None:
        query = query.where(PrivacyRequest.due_at >= after)
    return int(await probe.session.scalar(query) or 0)


async def _privacy_due(probe: Probe) -> Said | None:
    notice = probe.now + timedelta(days=PRIVACY_NOTICE_DAYS)
    count = await _open_requests(probe, until=notice, after=probe.now)
    if count == 0:
        return None
    return Said(
        f"{count} data-subject request(s) reach their 30-day deadline within "
        f"{PRIVACY_NOTICE_DAYS} days (`ovenai privacy requests`).",
        f"{count} בקשות פרטיות מגיעות למועד של 30 הימים בתוך {PRIVACY_NOTICE_DAYS} ימים "
        "(`ovenai privacy requests`).",
    )


async def _privacy_overdue(probe: Probe) -> Said | None:
    count = await _open_requests(probe, until=probe.now, after=None)
    if count == 0:
        return None
    return Said(
        f"{count} data-subject request(s) are past their 30-day deadline.",
        f"{count} בקשות פרטיות עברו את מועד 30 הימים.",
    )


async def _retention_not_run(probe: Probe) -> Said | None:
    last = await last_retention_run(probe.session)
    if last is None:
        flag = await probe.session.get(SystemFlag, MONITORING_SINCE_FLAG)
        last = datetime.fromisoformat(flag.value) if flag is not None else probe.now
    if probe.now - last < timedelta(hours=RETENTION_LATE_H):
        return None
    hours = int((probe.now - last).total_seconds() // 3600)
    return Said(
        f"The retention job has not run for {hours} hours (it runs daily at 02:00): "
        "is a worker running?",
        f"משימת שמירת הנתונים לא רצה {hours} שעות (היא רצה כל יום ב-02:00): האם worker פועל?",
    )


async def _graph_api(probe: Probe) -> Said | None:
    check = await graph_check.newest(probe.session)
    if check is None or check.ok:
        return None
    if check.token_rejected:
        return Said(
            f"Meta refused the access token in the Graph API check (code {check.code}): "
            "every send will fail. Renew WHATSAPP_ACCESS_TOKEN and restart the workers.",
            f"Meta דחתה את אסימון הגישה בבדיקת ה-Graph API (קוד {check.code}): כל שליחה "
            "תיכשל. יש לחדש את WHATSAPP_ACCESS_TOKEN ולהפעיל מחדש את ה-workers.",
        )
    return Said(
        f"The Graph API could not be reached in the last check (code {check.code}, "
        f"{check.kind}); sends wait and retry.",
        f"ה-Graph API לא היה זמין בבדיקה האחרונה (קוד {check.code}, {check.kind}); "
        "השליחות ממתינות ומנסות שוב.",
    )


async def _templates_not_approved(probe: Probe) -> Said | None:
    waba_id = probe.settings.whatsapp_business_account_id
    if not waba_id:
        return None
    names = {definition.name for definition in seed_definitions()}
    query = (
        select(MessageTemplate)
        .where(MessageTemplate.waba_id == waba_id, MessageTemplate.name.in_(names))
        .order_by(MessageTemplate.name, MessageTemplate.language)
    )
    problems = []
    for row in await probe.session.scalars(query):
        if row.status != TemplateStatus.APPROVED.value:
            problems.append(f"{row.name} ({row.language}): {row.status}")
        elif row.quality in LOW_QUALITY:
            problems.append(f"{row.name} ({row.language}): quality {row.quality}")
    if not problems:
        return None
    listed = "; ".join(problems)
    return Said(
        f"Templates the product relies on cannot be used as they are: {listed}",
        f"תבניות שהמערכת נשענת עליהן אינן שמישות כפי שהן: {listed}",
    )


async def _first_response(probe: Probe) -> Said | None:
    """Leads whose message no person has answered for more than the allowed working time;
    it only holds during working hours (nobody is paged at night for the night's wait)."""
    settings = probe.settings
    hours = WorkingHours.parse(settings.working_days, settings.working_hours, settings.zone)
    if not hours.is_open(probe.now):
        return None
    allowed = settings.alert_first_response_minutes * 60
    answered = (
        select(Message.id)
        .where(
            Message.lead_id == Lead.id,
            Message.direction == Direction.OUTBOUND,
            Message.sent_by_id.is_not(None),
            Message.created_at > Lead.last_inbound_at,
        )
        .exists()
    )
    query = select(Lead.last_inbound_at).where(
        Lead.erased_at.is_(None),
        Lead.last_inbound_at >= probe.now - SLA_LOOKBACK,
        Lead.last_inbound_at <= probe.now - timedelta(seconds=allowed),
        ~answered,
    )
    waits = [
        hours.seconds_between(wrote, probe.now)
        for wrote in await probe.session.scalars(query)
        if wrote is not None
    ]
    late = [wait for wait in waits if wait > allowed]
    if not late:
        return None
    longest = f"{max(late) / 60:.0f}"
    return Said(
        f"{len(late)} lead(s) have waited more than {allowed // 60} minutes of working time "
        f"for a person to answer (the longest {longest} minutes); see the inbox's "
        '"needs reply" filter.',
        f"{len(late)} לידים ממתינים יותר מ-{allowed // 60} דקות עבודה לתשובה של אדם "
        f'(הארוך ביותר {longest} דקות); ראו את הסינון "ממתין לתשובה" בתיבת הפניות.',
    )


async def _webhook_silence(probe: Probe) -> Said | None:
    """The newest signed test body was refused, or accepted and never applied."""
    if not webhook_probe.configured(probe.settings):
        return None
    sent, seen = await webhook_probe.newest(probe.session)
    return webhook_probe.problem(sent, seen, probe.now)


RULES: tuple[Rule, ...] = (
    Rule(FAILURE_RATE, "critical", _failure_rate),
    Rule(DELIVERY_RATE, "warning", _delivery_rate),
    Rule(GRAPH_SLOW, "warning", _graph_slow),
    Rule(SENDING_PAUSED, "critical", _sending_paused),
    Rule(OUTBOX_STUCK, "critical", _outbox_stuck),
    Rule(KEY_ROTATION_DUE, "warning", _key_rotation_due),
    Rule(KEY_ROTATION_OVERDUE, "critical", _key_rotation_overdue),
    Rule(PRIVACY_DUE, "warning", _privacy_due),
    Rule(PRIVACY_OVERDUE, "critical", _privacy_overdue),
    Rule(RETENTION_NOT_RUN, "warning", _retention_not_run),
    Rule(GRAPH_API, "critical", _graph_api),
    Rule(TEMPLATES_NOT_APPROVED, "warning", _templates_not_approved),
    Rule(FIRST_RESPONSE, "warning", _first_response),
    Rule(WEBHOOK_SILENCE, "critical", _webhook_silence),
)


@dataclass(frozen=True)
class Evaluation:
    """The kinds whose rule holds now, and how many notifications were queued."""

    holding: list[str]
    queued: int


async def evaluate(db: Database, settings: Settings) -> Evaluation:
    """Run every rule once, open and close their alerts, queue the notifications."""
    now = utcnow()
    try:
        key_age = await key_rotation.newest_key_age_days(db)
    except (OvenAIError, SQLAlchemyError):
        key_age = None  # /health reports an unreadable key store; no rule guesses an age
        log.warning("the key store could not be read; the key-age rules are skipped")
    holding: list[str] = []
    async with db.session() as session:
        if await session.get(SystemFlag, MONITORING_SINCE_FLAG) is None:
            session.add(SystemFlag(name=MONITORING_SINCE_FLAG, value=now.isoformat()))
            await session.flush()
        probe = Probe(session, settings, now, key_age)
        for rule in RULES:
            said = await rule.check(probe)
            if said is None:
                await resolve_alerts(session, kind=rule.kind)
                continue
            holding.append(rule.kind)
            await raise_alert(session, kind=rule.kind, severity=rule.severity, said=said)
        await session.flush()
        queued = await notifiers.queue_notifications(session, settings, now)
        await session.commit()
    return Evaluation(holding, queued)
