"""Key figures from the kept turns (ovenai.response_turns): the same report as the figures'
definitions give, whether the turns are counted live, kept by the worker's job, or kept
and then outdated by new messages or retention. On both databases, against a model of the
definitions written here from the module docstring of ovenai.kpis."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, true
from tests.outbox.conftest import make_lead

from ovenai import (
    auth,
    duration_buckets,
    kept_hours,
    kpis,
    privacy,
    response_turns,
    retention,
    scheduler,
    turn_hours,
    worker,
)
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import (
    Direction,
    Message,
    ReplyMark,
    ResponseTurn,
    ResponseTurnHour,
    ResponseTurnsProgress,
    ResponseTurnsStale,
    Role,
    StatusEvent,
    User,
)
from ovenai.models.webhooks import WebhookEvent
from ovenai.templates.registry import family_of
from support.histories import inbound_text

pytestmark = pytest.mark.anyio
START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 11, 8, tzinfo=UTC)
ADMIN = Actor(user_id=None, role=Role.ADMIN, email="owner@agency.co.il")
TEMPLATES = [
    "welcome_new_lead_he",
    "welcome_new_lead_en",
    "property_details_he",
    "meeting_reminder_he",
]
ERRORS = {131026: "Message undeliverable", 131047: "Re-engagement message", 131049: "Not delivered"}


# -- a model of the definitions (ovenai.kpis's docstring), over every row ------------------


def _timing(values: list[float]) -> kpis.Timing:
    return kpis.Timing.of(values)


def _model(
    messages: list[Message], bodies: list[WebhookEvent], emails: dict[str, str]
) -> dict[str, Any]:
    def within(at: datetime | None) -> bool:
        return at is not None and START <= at < END

    cohort = [
        m
        for m in messages
        if m.direction == Direction.OUTBOUND
        and (within(m.sent_at) or (m.sent_at is None and within(m.failed_at)))
    ]
    delivered = sum(m.status in ("delivered", "read") for m in cohort)
    failed = [m for m in cohort if m.status == "failed"]
    codes = Counter(m.error_code for m in failed)
    titles: dict[int, str] = {}
    for m in messages:
        if (
            m.direction == Direction.OUTBOUND
            and m.error_code
            and m.error_title
            and within(m.failed_at)
        ):
            titles[m.error_code] = max(titles.get(m.error_code, ""), m.error_title)
    families: Counter[str] = Counter()
    family_delivered: Counter[str] = Counter()
    family_read: Counter[str] = Counter()
    for m in cohort:
        if m.template_name:
            family = family_of(m.template_name)
            families[family] += 1
            family_delivered[family] += m.status in ("delivered", "read")
            family_read[family] += m.status == "read"
    total = sum(families.values())
    first_out: dict[str, datetime] = {}
    for m in messages:
        if m.direction == Direction.OUTBOUND and within(m.sent_at):
            assert m.sent_at is not None
            first_out[m.lead_id] = min(first_out.get(m.lead_id, m.sent_at), m.sent_at)
    replied = {
        m.lead_id
        for m in messages
        if m.direction == Direction.INBOUND
        and within(m.created_at)
        and m.lead_id in first_out
        and m.created_at > first_out[m.lead_id]
    }
    # First responses: each lead's inbound and person-sent messages in order.
    by_lead: defaultdict[str, list[Message]] = defaultdict(list)
    for m in messages:
        if m.direction == Direction.INBOUND or m.sent_by_id is not None:
            by_lead[m.lead_id].append(m)
    turns: dict[tuple[str, datetime], tuple[datetime | None, str | None]] = {}
    for lead_id, ordered in by_lead.items():
        ordered.sort(key=lambda m: (m.created_at, m.id))
        for n, m in enumerate(ordered):
            starts = m.direction == Direction.INBOUND and (
                n == 0 or ordered[n - 1].direction != Direction.INBOUND
            )
            if not starts or not within(m.created_at) or (lead_id, m.created_at) in turns:
                continue
            reply = next((r for r in ordered[n + 1 :] if r.direction == Direction.OUTBOUND), None)
            turns[(lead_id, m.created_at)] = (
                (reply.created_at, reply.sent_by_id) if reply else (None, None)
            )
    waits: list[float] = []
    per_agent: defaultdict[str, list[float]] = defaultdict(list)
    slow: list[tuple[bool, float, datetime, str]] = []
    for (lead_id, turn_at), (reply_at, agent) in turns.items():
        waited = None if reply_at is None else (reply_at - turn_at).total_seconds()
        if waited is not None:
            waits.append(waited)
            per_agent[emails.get(agent or "", "?")].append(waited)
        slow.append((waited is not None, -(waited or 0), turn_at, lead_id))
    slow.sort()
    took = [
        max(0.0, (b.processed_at - b.received_at).total_seconds())
        for b in bodies
        if b.processed_at is not None and within(b.received_at)
    ]
    return {
        "cohort": len(cohort),
        "delivered": delivered,
        "read": sum(m.status == "read" for m in cohort),
        "failed": len(failed),
        "still_sent": sum(m.status == "sent" for m in cohort),
        "top_errors": sorted(
            (code, titles.get(code) if code else None, count) for code, count in codes.items()
        ),
        "templates": sorted(
            (
                family,
                count,
                round(count / total, 4),
                round(family_delivered[family] / count, 4),
                round(family_read[family] / count, 4),
            )
            for family, count in families.items()
        ),
        "leads_written": len(first_out),
        "leads_replied": len(replied),
        "webhook_processing": _timing(took),
        "turns": len(turns),
        "answered": _timing(waits),
        "unanswered": len(turns) - len(waits),
        "by_agent": sorted((email, _timing(v)) for email, v in per_agent.items()),
        "slowest": [
            (lead_id, turn_at, -minus if answered else None)
            for answered, minus, turn_at, lead_id in slow[: kpis.SLOWEST]
        ],
    }


def _figures(found: kpis.Report) -> dict[str, Any]:
    responses = found.first_responses
    slow = sorted(
        responses.slowest,
        key=lambda s: (s.waited_s is not None, -(s.waited_s or 0), s.turn_at, s.lead_id),
    )
    return {
        "cohort": found.cohort,
        "delivered": found.delivered,
        "read": found.read,
        "failed": found.failed,
        "still_sent": found.still_sent,
        "top_errors": sorted((e.code, e.title, e.count) for e in found.top_errors),
        "templates": sorted(
            (t.family, t.sent, t.share, t.delivered_rate, t.read_rate) for t in found.templates
        ),
        "leads_written": found.leads_written,
        "leads_replied": found.leads_replied,
        "webhook_processing": found.webhook_processing,
        "turns": responses.turns,
        "answered": responses.answered,
        "unanswered": responses.unanswered,
        "by_agent": sorted((a.email, a.timing) for a in responses.by_agent),
        "slowest": [(s.lead_id, s.turn_at, s.waited_s) for s in slow],
    }


async def _expected(db: Database) -> dict[str, Any]:
    async with db.session() as session:
        messages = list(await session.scalars(select(Message)))
        bodies = list(await session.scalars(select(WebhookEvent)))
        emails = {u.id: u.email for u in await session.scalars(select(User))}
    return _model(messages, bodies, emails)


def assert_within_the_bound(found: kpis.Timing, exact: kpis.Timing) -> None:
    """Webhook processing and first responses: count, mean and slowest exact; the median
    and 95th percentile within the buckets' bound (ovenai.duration_buckets: 1 %, or 1 ms
    under 1 ms), plus the rounding of both to milliseconds."""
    assert (found.count, found.mean_s, found.max_s) == (exact.count, exact.mean_s, exact.max_s)
    for approximate, value in ((found.median_s, exact.median_s), (found.p95_s, exact.p95_s)):
        if value is None:
            assert approximate is None
            continue
        assert approximate is not None
        bound = max(duration_buckets.ALPHA * value, duration_buckets.FLOOR_S) + 0.001
        assert abs(approximate - value) <= bound, (approximate, value)


async def _assert_report_matches_the_definitions(db: Database) -> None:
    found = _figures(await kpis.report(db, actor=ADMIN, start=START, end=END))
    expected = await _expected(db)
    assert_within_the_bound(found.pop("webhook_processing"), expected.pop("webhook_processing"))
    # First responses: the waits' median and 95th percentile from buckets too.
    assert_within_the_bound(found.pop("answered"), expected.pop("answered"))
    agents, expected_agents = found.pop("by_agent"), expected.pop("by_agent")
    assert [email for email, _t in agents] == [email for email, _t in expected_agents]
    for (_email, timing), (_same, exact) in zip(agents, expected_agents, strict=True):
        assert_within_the_bound(timing, exact)
    assert found == expected


def _no_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The job's grace for slow transactions down to nothing: messages written before its
    last run are read from what it kept (else, for ten minutes, they are counted live)."""
    monkeypatch.setattr(response_turns, "GRACE", timedelta(0))


async def _live_leads_and_written(db: Database) -> set[str]:
    """The leads counted live now (whether they have turns in the period or not)."""
    async with db.session() as session:
        progress = await session.get(ResponseTurnsProgress, response_turns.PROGRESS)
        assert progress is not None
        since = progress.done_until - response_turns.GRACE
        return set(await response_turns._changes_since(session, since))


async def _live_leads(db: Database) -> set[str]:
    async with db.session() as session:
        found = await response_turns.in_period(session, START, END)
    return {turn.lead_id for turn in found.new}


# -- a realistic mix ----------------------------------------------------------------------


async def _conversations(db: Database, *, leads: int, seed: int, around: datetime) -> list[str]:
    """Leads with conversations around ``around`` (some before the period, some after):
    inbound turns, automation's and agents' answers (texts and templates of several
    families), statuses late or never, failures at the send or after, bodies of webhooks."""
    rng = random.Random(seed)
    agents = [
        await auth.create_user(db, email=f"agent{seed}-{n}@agency.co.il", role=Role.AGENT)
        for n in range(3)
    ]
    ids = [(await make_lead(db)).id for _ in range(leads)]
    rows: list[Any] = []
    for lead_id in ids:
        at = around + timedelta(seconds=rng.randrange(-3 * 86400, 3 * 86400))
        for _ in range(rng.randrange(1, 12)):
            at += timedelta(seconds=rng.randrange(1, 4 * 3600))
            kind = rng.random()
            if kind < 0.45:
                rows.append(inbound_text(lead_id, at))
                continue
            person = rng.random() < 0.5
            template = rng.choice(TEMPLATES) if rng.random() < 0.5 else None
            outcome = rng.random()
            sent_at: datetime | None = at + timedelta(seconds=rng.randrange(0, 30))
            status = "read" if outcome < 0.4 else "delivered" if outcome < 0.7 else "sent"
            failed_at = None
            code = None
            if outcome >= 0.85:  # failed: at the send (never accepted) or by a webhook
                status, code = "failed", rng.choice(list(ERRORS))
                failed_at = at + timedelta(seconds=rng.randrange(1, 600))
                if rng.random() < 0.5:
                    sent_at = None
            elif outcome >= 0.8:
                status, sent_at = "queued", None
            rows.append(
                Message(
                    lead_id=lead_id,
                    direction=Direction.OUTBOUND,
                    type="template" if template else "text",
                    template_name=template,
                    status=status,
                    sent_at=sent_at,
                    failed_at=failed_at,
                    error_code=code,
                    error_title=ERRORS[code] if code else None,
                    sent_by_id=rng.choice(agents).id if person else None,
                    created_at=at,
                )
            )
    for n in range(41):  # an odd number of bodies: the median is one of them on both
        received = around + timedelta(minutes=37 * n - 600)
        rows.append(
            WebhookEvent(
                received_at=received,
                key_bucket="k",
                body_size=1,
                status="processed",
                processed_at=received + timedelta(milliseconds=rng.randrange(5, 5000)),
            )
        )
    rng.shuffle(rows)  # written in any order, as webhooks and sends interleave
    async with db.session() as session:
        session.add_all(rows)
        await session.commit()
    return ids


async def test_kept_turns_give_the_report_the_definitions_give(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    leads = await _conversations(db, leads=40, seed=7, around=START + timedelta(days=2))
    await _assert_report_matches_the_definitions(db)  # never counted: all live

    counted = await response_turns.refresh(db)  # the first run counts every lead

    assert counted.leads == 40  # every lead with a message
    assert await _live_leads(db)  # written within the grace before the run: live
    await _assert_report_matches_the_definitions(db)
    _no_grace(monkeypatch)
    assert (await response_turns.refresh(db)).leads == 0  # nothing written since
    assert await _live_leads(db) == set()
    await _assert_report_matches_the_definitions(db)  # all kept

    # More conversation after the run: new leads, and new messages of counted leads (a late
    # webhook's among them: dated, as ingest dates it, at Meta's time, before messages
    # already counted); late statuses of messages already sent.
    await _conversations(db, leads=10, seed=8, around=START + timedelta(days=4))
    late = START + timedelta(days=1, hours=3)
    async with db.session() as session:
        session.add_all(
            [
                Message(
                    lead_id=leads[0],
                    direction=Direction.INBOUND,
                    type="text",
                    status="received",
                    created_at=START + timedelta(days=6),
                ),
                Message(
                    lead_id=leads[1],
                    direction=Direction.INBOUND,
                    type="text",
                    status="received",
                    created_at=late,
                    updated_at=late,
                    status_at=late,
                ),
            ]
        )
        sent = await session.scalars(select(Message).where(Message.status == "sent").limit(6))
        for n, message in enumerate(sent):
            message.status = "read" if n % 2 else "failed"
            if message.status == "failed":
                message.error_code, message.error_title = 131049, ERRORS[131049]
                message.failed_at = START + timedelta(days=5)
        # A "sent" status arriving late restamps a message with Meta's (earlier) time: the
        # only message of ours in the period to its lead moves out of the period.
        ours = [
            m
            for m in await session.scalars(select(Message).where(Message.lead_id.in_(leads[5:])))
            if m.direction == Direction.OUTBOUND
            and m.sent_at is not None
            and START <= m.sent_at < END
        ]
        alone = next(m for m in ours if [o.lead_id for o in ours].count(m.lead_id) == 1)
        alone.wa_message_id, alone.sent_at = "wamid.late-sent", START - timedelta(hours=1)
        await session.flush()
        session.add(
            StatusEvent(
                wa_message_id="wamid.late-sent", status="sent", at=alone.sent_at, applied=True
            )
        )
        await session.commit()
    assert {leads[1], alone.lead_id} <= await _live_leads_and_written(db)
    await _assert_report_matches_the_definitions(db)  # kept and live together

    assert (await response_turns.refresh(db)).leads >= 12
    assert await _live_leads(db) == set()
    await _assert_report_matches_the_definitions(db)

    # Erased leads keep their (blanked) messages and so their turns.
    for lead_id in leads[2:5]:
        await privacy.erase_lead(db, actor=Actor.system(), lead_id=lead_id)
    await _assert_report_matches_the_definitions(db)
    await response_turns.refresh(db)
    await _assert_report_matches_the_definitions(db)


async def test_retention_leaves_the_leads_it_took_messages_from_to_be_counted_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_grace(monkeypatch)
    await _conversations(db, leads=30, seed=11, around=START + timedelta(days=1))
    await response_turns.refresh(db)
    assert await _live_leads(db) == set()
    policy = retention.Policy(
        conversations=timedelta(days=2),
        webhook_logs=timedelta(days=400),
        audit=timedelta(days=400),
        lead_grace=timedelta(days=400),
    )

    # The messages of the period's first day and before go: the first message left of a
    # lead may start a turn now, and turns whose message went are gone.
    deleted = await retention.run(db, policy=policy, now=START + timedelta(days=3))

    assert deleted["messages"] > 0
    async with db.session() as session:
        stale = list(await session.scalars(select(ResponseTurnsStale.lead_id)))
    assert stale
    assert await _live_leads(db) <= set(stale)
    await _assert_report_matches_the_definitions(db)  # the stale leads counted live

    await response_turns.refresh(db)

    async with db.session() as session:
        assert list(await session.scalars(select(ResponseTurnsStale.lead_id))) == []
    assert await _live_leads(db) == set()
    await _assert_report_matches_the_definitions(db)


async def test_a_turn_is_a_persons_to_answer_and_one_instant_counts_once() -> None:
    t = START
    rows = [
        ("a", "1", Direction.INBOUND, t, None),
        ("a", "2", Direction.INBOUND, t + timedelta(seconds=5), None),  # the same turn
        ("a", "3", Direction.OUTBOUND, t + timedelta(seconds=60), "rina"),  # answers it
        ("a", "4", Direction.INBOUND, t + timedelta(seconds=90), None),  # a new turn, unanswered
        ("b", "5", Direction.OUTBOUND, t, "dana"),  # a person wrote first
        ("b", "6", Direction.INBOUND, t + timedelta(seconds=1), None),
        ("b", "7", Direction.OUTBOUND, t + timedelta(seconds=1), "dana"),  # the same instant
        (
            "b",
            "8",
            Direction.INBOUND,
            t + timedelta(seconds=1),
            None,
        ),  # a second turn at that instant
        ("b", "9", Direction.OUTBOUND, t + timedelta(seconds=30), "rina"),
    ]

    turns = response_turns.turns_of(rows)

    assert [(x.message_id, x.reply_at, x.replied_by_id) for x in turns] == [
        ("1", t + timedelta(seconds=60), "rina"),
        ("4", None, None),
        ("6", t + timedelta(seconds=1), "dana"),
    ]


async def test_the_worker_keeps_the_turns_every_minute(db: Database) -> None:
    job = scheduler.REGISTRY["kpis.turns"]
    assert job.func is worker.count_turns
    assert job.interval_s == response_turns.EVERY_S
    lead = await make_lead(db)
    async with db.session() as session:
        session.add(
            Message(
                lead_id=lead.id,
                direction=Direction.INBOUND,
                type="text",
                status="received",
                created_at=START + timedelta(days=1),
            )
        )
        await session.commit()

    await worker.count_turns(scheduler.JobContext(db=db, settings=None))  # type: ignore[arg-type]

    async with db.session() as session:
        assert await session.scalar(select(ResponseTurn.lead_id)) == lead.id
    assert (
        asdict(await kpis.report(db, actor=ADMIN, start=START, end=END))["first_responses"][
            "unanswered"
        ]
        == 1
    )


def test_a_reply_counts_after_our_first_message_of_the_period_and_never_at_its_instant() -> None:
    day = timedelta(days=1)
    t = START + day
    rows = [  # (lead, id, direction, created_at, sent_at, sent_by), ordered by lead
        (
            "before",
            "1",
            Direction.OUTBOUND,
            START - day,
            START - day,
            None,
        ),  # ours, before the period
        ("before", "2", Direction.INBOUND, t, None, None),  # replies to it: not to the period's
        ("before", "3", Direction.OUTBOUND, t + day, t + day, None),  # the period's first of ours
        ("before", "4", Direction.INBOUND, t + 2 * day, None, None),  # a reply to it
        ("instant", "5", Direction.OUTBOUND, t, t, None),
        ("instant", "6", Direction.INBOUND, t, None, None),  # at the very instant: not after it
        ("queued", "7", Direction.OUTBOUND, t, None, None),  # never accepted: not written to
        ("queued", "8", Direction.INBOUND, t + day, None, None),
        ("late", "9", Direction.OUTBOUND, t, t, "rina"),
        ("late", "10", Direction.INBOUND, END + day, None, None),  # after the period's end
    ]

    marks = response_turns.marks_of(rows)

    assert response_turns.reply_counts(marks, START, END) == (3, 1)  # before, instant, late
    assert response_turns.reply_counts(marks, START, t + day) == (2, 0)
    assert response_turns.reply_counts(marks, START - day, END) == (3, 1)


# -- the job resumes each lead where it changed ------------------------------------------


async def _assert_kept_are_a_full_recount(db: Database) -> None:
    """The kept turns and marks are those every lead's messages give, counted from the
    start; the kept hours are the kept turns bucketed."""
    async with db.session() as session:
        turns, marks = await response_turns._count_live(session, true())
        kept_turns = {
            response_turns.Turn(*row)
            for row in await session.execute(
                select(
                    ResponseTurn.message_id,
                    ResponseTurn.lead_id,
                    ResponseTurn.turn_at,
                    ResponseTurn.reply_at,
                    ResponseTurn.replied_by_id,
                )
            )
        }
        kept_marks = {
            response_turns.Mark(*row)
            for row in await session.execute(
                select(
                    ReplyMark.message_id,
                    ReplyMark.lead_id,
                    ReplyMark.kind,
                    ReplyMark.at,
                    ReplyMark.previous_at,
                    ReplyMark.reply_at,
                )
            )
        }
        hours: Counter[tuple[datetime, str | None, int | None]] = Counter()
        for turn in kept_turns:
            wait = turn_hours.waited(turn)
            bucket = None if wait is None else duration_buckets.bucket_of(wait)
            agent = None if wait is None else turn.replied_by_id
            hours[(kept_hours.hour_of(turn.turn_at), agent, bucket)] += 1
        kept_counts: Counter[tuple[datetime, str | None, int | None]] = Counter()
        for hour, agent, bucket, count in await session.execute(
            select(
                ResponseTurnHour.hour,
                ResponseTurnHour.agent_id,
                ResponseTurnHour.bucket,
                ResponseTurnHour.count,
            )
        ):
            kept_counts[(kept_hours.hour_of(hour), agent, bucket)] += count
    assert kept_turns == set(turns)
    assert kept_marks == set(marks)
    assert kept_counts == hours


async def _more_messages(db: Database, leads: list[str], rng: random.Random) -> None:
    """New messages for some leads, as they come: inbound ones dated by Meta (some late,
    before messages already counted, some at the very instant of one), agents' and
    automation's answers, a send accepted now, and a "sent" status restamping one of ours
    with Meta's earlier time."""
    async with db.session() as session:
        messages = list(await session.scalars(select(Message).where(Message.lead_id.in_(leads))))
        for lead_id in rng.sample(leads, len(leads) // 2):
            mine = [m for m in messages if m.lead_id == lead_id]
            last = max(m.created_at for m in mine)
            for _ in range(rng.randrange(1, 4)):
                kind = rng.random()
                if kind < 0.2:  # late: dated between messages already counted
                    at = rng.choice(mine).created_at - timedelta(seconds=rng.randrange(0, 3))
                else:
                    last += timedelta(seconds=rng.randrange(1, 7200))
                    at = last
                if kind < 0.6:
                    session.add(inbound_text(lead_id, at))
                    continue
                person = kind < 0.85
                session.add(
                    Message(
                        lead_id=lead_id,
                        direction=Direction.OUTBOUND,
                        type="text",
                        status="sent",
                        sent_at=at + timedelta(seconds=1) if rng.random() < 0.8 else None,
                        sent_by_id=rng.choice(
                            [m.sent_by_id for m in mine if m.sent_by_id] or [None]
                        )
                        if person
                        else None,
                        created_at=at,
                    )
                )
        ours = [m for m in messages if m.direction == Direction.OUTBOUND and m.sent_at]
        for n, message in enumerate(rng.sample(ours, min(3, len(ours)))):
            assert message.sent_at is not None
            message.wa_message_id = f"wamid.restamped-{rng.random()}-{n}"
            message.sent_at -= timedelta(hours=rng.randrange(1, 48))
            session.add(
                StatusEvent(
                    wa_message_id=message.wa_message_id,
                    status="sent",
                    at=message.sent_at,
                    applied=True,
                )
            )
        queued = [m for m in messages if m.direction == Direction.OUTBOUND and not m.sent_at]
        for message in queued[:2]:  # accepted by Meta now (``sent_at``: our clock)
            message.sent_at = utcnow()
        await session.commit()


async def test_each_run_counts_the_leads_again_from_where_they_changed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_grace(monkeypatch)
    rng = random.Random(41)
    leads = await _conversations(db, leads=30, seed=41, around=START + timedelta(days=2))
    await response_turns.refresh(db)
    await _assert_kept_are_a_full_recount(db)
    for _round in range(4):
        await _more_messages(db, leads, rng)
        await _assert_report_matches_the_definitions(db)  # changed leads counted live
        await response_turns.refresh(db)
        await _assert_kept_are_a_full_recount(db)
        await _assert_report_matches_the_definitions(db)
    async with db.session() as session:
        rows_before = await session.scalar(select(func.count()).select_from(ResponseTurnHour))
    hours = [START - timedelta(days=2) + timedelta(hours=n) for n in range(24 * 12)]
    await turn_hours.compact(db, hours)  # one row a bucket again, the same sums
    async with db.session() as session:
        rows_after = await session.scalar(select(func.count()).select_from(ResponseTurnHour))
    assert rows_after is not None and rows_before is not None and rows_after < rows_before
    await _assert_kept_are_a_full_recount(db)
    await _assert_report_matches_the_definitions(db)


def test_hours_are_compacted_two_hours_and_a_day_after_they_end() -> None:
    ten = datetime(2026, 12, 7, 10, tzinfo=UTC)
    # The run at 12:00:30 after one at 11:59:30: the hour 9-10 ended two hours ago, and
    # the hour 9-10 of the day before a day and two hours ago.
    assert turn_hours.due(
        ten + timedelta(hours=1, minutes=59, seconds=30), ten + timedelta(hours=2, seconds=30)
    ) == [ten - timedelta(days=1, hours=1), ten - timedelta(hours=1)]
    assert turn_hours.due(ten + timedelta(minutes=5), ten + timedelta(minutes=6)) == []


async def test_a_long_history_is_not_read_again_for_a_new_message(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_grace(monkeypatch)
    agent = await auth.create_user(db, email="agent@agency.co.il", role=Role.AGENT)
    lead = (await make_lead(db)).id
    at = START
    history: list[Message] = []
    for n in range(300):  # 150 turns, each answered by the agent
        at += timedelta(minutes=7)
        inbound = n % 2 == 0
        history.append(
            Message(
                lead_id=lead,
                direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                type="text",
                status="received" if inbound else "read",
                sent_at=None if inbound else at,
                sent_by_id=None if inbound else agent.id,
                created_at=at,
            )
        )
    async with db.session() as session:
        session.add_all(history)
        await session.commit()
    first = await response_turns.refresh(db)
    assert first.messages == 300

    async def write(direction: Direction) -> None:
        nonlocal at
        at += timedelta(minutes=3)
        async with db.session() as session:
            session.add(
                Message(
                    lead_id=lead,
                    direction=direction,
                    type="text",
                    status="received" if direction == Direction.INBOUND else "read",
                    sent_at=None if direction == Direction.INBOUND else at,
                    sent_by_id=None if direction == Direction.INBOUND else agent.id,
                    created_at=at,
                )
            )
            await session.commit()

    await write(Direction.INBOUND)  # a new turn
    await _assert_report_matches_the_definitions(db)
    again = await response_turns.refresh(db)
    # Its last kept turn (two messages) and the new one: not the 300 before.
    assert (again.leads, again.messages) == (1, 3)
    await write(Direction.OUTBOUND)  # the agent answers it
    again = await response_turns.refresh(db)
    assert (again.leads, again.messages) == (1, 2)
    await _assert_kept_are_a_full_recount(db)
    await _assert_report_matches_the_definitions(db)
