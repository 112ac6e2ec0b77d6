"""Key figures: each rate's cohort and denominator, on both databases."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from tests.outbox.conftest import make_lead
from tests.test_kpis_turns import assert_within_the_bound

from ovenai import auth, duration_buckets, kpis
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.errors import InvalidInput, PermissionDenied
from ovenai.models import Direction, Message, Role
from ovenai.models.webhooks import WebhookEvent

pytestmark = pytest.mark.anyio
START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 11, 8, tzinfo=UTC)
ADMIN = Actor(user_id=None, role=Role.ADMIN, email="owner@agency.co.il")


def _out(lead_id: str, status: str, at: datetime | None, **fields: object) -> Message:
    """An outbound message accepted at ``at`` (None: never accepted) in ``status``."""
    failed = status == "failed"
    return Message(
        lead_id=lead_id,
        direction=Direction.OUTBOUND,
        type="template" if fields.get("template_name") else "text",
        status=status,
        sent_at=at,
        failed_at=(at or START + timedelta(hours=1)) if failed else None,
        created_at=at or START + timedelta(hours=1),
        **fields,
    )


def _in(lead_id: str, at: datetime) -> Message:
    return Message(
        lead_id=lead_id, direction=Direction.INBOUND, type="text", status="received", created_at=at
    )


async def _report(db: Database) -> kpis.Report:
    return await kpis.report(db, actor=ADMIN, start=START, end=END)


async def test_the_outbound_cohort_adds_up_and_reads_imply_delivery(db: Database) -> None:
    lead = await make_lead(db)
    day = START + timedelta(days=1)
    async with db.session() as session:
        session.add_all(
            [
                _out(lead.id, "delivered", day),
                _out(lead.id, "read", day, delivered_at=None),  # read, no "delivered" seen
                _out(lead.id, "read", day),
                _out(lead.id, "sent", day),  # a blocked number: stays "sent"
                _out(lead.id, "failed", day, error_code=131026, error_title="Undeliverable"),
                _out(lead.id, "failed", None, error_code=131026),  # refused at the send
                _out(lead.id, "failed", None, error_code=131047, error_title="Re-engage"),
                _out(lead.id, "delivered", START - timedelta(minutes=1)),  # before: not in it
                _out(lead.id, "delivered", END),  # the end is excluded
                Message(
                    lead_id=lead.id, direction=Direction.OUTBOUND, type="text", status="queued"
                ),
            ]
        )
        await session.commit()

    found = await _report(db)

    assert found.cohort == 7
    assert (found.delivered, found.read, found.failed, found.still_sent) == (3, 2, 3, 1)
    assert found.delivered + found.failed + found.still_sent == found.cohort
    assert found.delivery_rate == round(3 / 7, 4) and found.failure_rate == round(3 / 7, 4)
    assert found.top_errors == [
        kpis.ErrorShare(131026, "Undeliverable", 2),
        kpis.ErrorShare(131047, "Re-engage", 1),
    ]


async def test_template_families_share_the_template_traffic_with_their_own_rates(
    db: Database,
) -> None:
    lead = await make_lead(db)
    day = START + timedelta(days=2)
    counts = {
        "welcome_new_lead_he": 6,
        "welcome_new_lead_en": 3,
        "property_details_he": 5,
        "meeting_reminder_he": 3,
        "followup_interest_he": 2,
        "document_request_he": 1,
    }
    async with db.session() as session:
        for name, count in counts.items():
            for n in range(count):
                status = "read" if n == 0 else "delivered" if n == 1 else "sent"
                session.add(_out(lead.id, status, day, template_name=name))
        session.add(_out(lead.id, "read", day))  # free text: not a template's share
        await session.commit()

    usage = {t.family: t for t in (await _report(db)).templates}

    assert [t.family for t in (await _report(db)).templates] == [
        "welcome_new_lead",
        "property_details",
        "meeting_reminder",
        "followup_interest",
        "document_request",
    ]
    assert [usage[f].share for f in usage] == [0.45, 0.25, 0.15, 0.1, 0.05]
    assert usage["welcome_new_lead"].sent == 9
    assert usage["welcome_new_lead"].delivered_rate == round(4 / 9, 4)  # two reads, two delivered
    assert usage["welcome_new_lead"].read_rate == round(2 / 9, 4)
    assert usage["document_request"].read_rate == 1.0


async def test_a_reply_counts_only_after_our_first_message_of_the_period(db: Database) -> None:
    replied, silent, earlier = [await make_lead(db) for _ in range(3)]
    day = START + timedelta(days=3)
    async with db.session() as session:
        session.add_all(
            [
                _out(replied.id, "read", day),
                _in(replied.id, day + timedelta(hours=2)),
                _out(silent.id, "delivered", day),
                _in(earlier.id, day - timedelta(hours=1)),  # wrote before we did
                _out(earlier.id, "read", day),
                _in(replied.id, END + timedelta(hours=1)),  # after the period: not counted
            ]
        )
        await session.commit()

    found = await _report(db)

    assert (found.leads_written, found.leads_replied) == (3, 1)
    assert found.reply_rate == round(1 / 3, 4)


async def test_first_responses_are_a_persons_and_automation_does_not_count(
    db: Database,
) -> None:
    rina = await auth.create_user(db, email="rina@agency.co.il", role=Role.AGENT)
    dana = await auth.create_user(db, email="dana@agency.co.il", role=Role.AGENT)
    quick, twice, waiting = [await make_lead(db) for _ in range(3)]
    t = START + timedelta(days=4)
    async with db.session() as session:
        session.add_all(
            [
                _in(quick.id, t),
                _out(quick.id, "read", t + timedelta(seconds=1)),  # automation's welcome
                _out(quick.id, "read", t + timedelta(seconds=120), sent_by_id=rina.id),
                _in(twice.id, t),
                _in(twice.id, t + timedelta(seconds=10)),  # still the same turn
                _out(twice.id, "read", t + timedelta(seconds=60), sent_by_id=dana.id),
                _in(twice.id, t + timedelta(seconds=600)),  # a new turn, answered later
                _out(twice.id, "read", t + timedelta(seconds=900), sent_by_id=dana.id),
                _in(waiting.id, t + timedelta(hours=1)),
            ]
        )
        await session.commit()

    found = (await _report(db)).first_responses

    assert (found.turns, found.answered.count, found.unanswered) == (4, 3, 1)
    assert found.answered.mean_s == pytest.approx((120 + 60 + 300) / 3, abs=0.01)
    assert found.answered.max_s == pytest.approx(300, abs=0.01)
    agents = {agent.email: agent.timing for agent in found.by_agent}
    assert agents["rina@agency.co.il"].mean_s == pytest.approx(120, abs=0.01)
    assert agents["dana@agency.co.il"].count == 2
    assert found.slowest[0].lead_id == waiting.id and found.slowest[0].waited_s is None
    assert found.slowest[1].waited_s == pytest.approx(300, abs=0.01)


def _processed(received: datetime, took: float) -> WebhookEvent:
    """A body received at ``received`` and applied ``took`` seconds later."""
    return WebhookEvent(
        received_at=received,
        key_bucket="k",
        body_size=1,
        status="processed",
        processed_at=received + timedelta(seconds=took),
    )


async def test_webhook_processing_time_is_of_the_bodies_received_in_the_period(
    db: Database,
) -> None:
    t = START + timedelta(days=5)
    async with db.session() as session:
        for n, took in enumerate((0.5, 1.0, 1.5, 2.0)):
            session.add(_processed(t + timedelta(minutes=n), took))
        session.add(WebhookEvent(received_at=t, key_bucket="k", body_size=1))  # not yet
        await session.commit()

    timing = (await _report(db)).webhook_processing

    assert timing.count == 4
    assert timing.mean_s == pytest.approx(1.25, abs=0.01)
    assert timing.p95_s == pytest.approx(2.0, abs=0.01)


async def test_webhook_percentiles_are_within_the_buckets_bound_of_the_exact_ones(
    db: Database,
) -> None:
    """Durations from under a millisecond to hours (log-uniform, some negative clock skew
    counted as nothing): the bucketed median and 95th percentile against the sorted ones."""
    rng = random.Random(3)
    took = [math.exp(rng.uniform(math.log(0.0002), math.log(7200))) for _ in range(1500)]
    took += [rng.uniform(0.04, 0.06) for _ in range(800)]  # a busy cluster
    took += [-0.003, 0.0, 0.0]
    t = START + timedelta(days=2)
    async with db.session() as session:
        for n, seconds in enumerate(took):
            session.add(_processed(t + timedelta(seconds=n), seconds))
        await session.commit()
    exact = kpis.Timing.of([max(0.0, round(s, 6)) for s in took])  # stored to microseconds

    found = (await _report(db)).webhook_processing

    assert_within_the_bound(found, exact)
    for count in (1, 2, 3, 20, 21, 1000):  # ranks at every parity, pure Python too
        values = [math.exp(rng.uniform(math.log(0.0001), math.log(100))) for _ in range(count)]
        summary = duration_buckets.summarise(duration_buckets.buckets_of(values))
        assert summary is not None
        assert_within_the_bound(
            kpis.Timing(
                count=summary.count,
                mean_s=round(summary.mean, 3),
                median_s=round(summary.median, 3),
                p95_s=round(summary.p95, 3),
                max_s=round(summary.most, 3),
            ),
            kpis.Timing.of(values),
        )


async def test_only_admins_see_figures_of_a_period_that_runs_forward(db: Database) -> None:
    agent = Actor(user_id=None, role=Role.AGENT, email="rina@agency.co.il")
    with pytest.raises(PermissionDenied):
        await kpis.report(db, actor=agent, start=START, end=END)
    with pytest.raises(InvalidInput, match="end after"):
        await kpis.report(db, actor=ADMIN, start=END, end=START)
    with pytest.raises(InvalidInput, match="366 days"):
        await kpis.report(db, actor=ADMIN, start=START, end=START + timedelta(days=400))
