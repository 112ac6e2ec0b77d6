"""The weekly report: Sunday-to-Saturday weeks in Israel, last week against the one before,
e-mailed as HTML and text in each address's language (a loopback SMTP server)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from tests.monitoring.conftest import Inbox
from tests.outbox.conftest import make_lead

from ovenai import graph_times, scheduler, weekly_report
from ovenai.auth import Actor
from ovenai.cloudapi import timings
from ovenai.db import Database
from ovenai.models import Direction, Message
from ovenai.settings import Settings
from ovenai.worker import weekly_report as weekly_job

pytestmark = pytest.mark.anyio
ISRAEL = ZoneInfo("Asia/Jerusalem")
WEEK = date(2026, 11, 15)  # a Sunday


def test_a_week_runs_from_sunday_in_israel() -> None:
    assert weekly_report.week_of(date(2026, 11, 21)) == WEEK  # Saturday
    assert weekly_report.week_of(WEEK) == WEEK
    assert weekly_report.week_of(date(2026, 11, 16)) == WEEK  # Monday
    # Saturday 22:30 UTC is already Sunday 00:30 in Israel: the week just ended is WEEK.
    sunday_night = datetime(2026, 11, 21, 22, 30, tzinfo=UTC)
    assert weekly_report.last_full_week(sunday_night, ISRAEL) == WEEK
    assert weekly_report.last_full_week(sunday_night - timedelta(hours=1), ISRAEL) == (
        WEEK - timedelta(days=7)
    )
    job = scheduler.REGISTRY["reports.weekly"]
    assert job.cron == {"day_of_week": "sun", "hour": 8, "minute": 0}
    assert job.func is weekly_job


async def _sent(db: Database, lead_id: str, at: datetime, status: str) -> None:
    async with db.session() as session:
        session.add(
            Message(
                lead_id=lead_id,
                direction=Direction.OUTBOUND,
                type="template",
                template_name="welcome_new_lead_he",
                status=status,
                sent_at=None if status == "failed" else at,
                failed_at=at if status == "failed" else None,
                error_code=131026 if status == "failed" else None,
            )
        )
        await session.commit()


async def test_the_report_sets_the_week_beside_the_one_before_and_is_mailed(
    db: Database, alert_settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    lead = await make_lead(db)
    monday = datetime(2026, 11, 16, 10, 0, tzinfo=ISRAEL)
    for status in ("read", "delivered", "failed", "read"):
        await _sent(db, lead.id, monday, status)
    await _sent(db, lead.id, monday - timedelta(days=7), "read")  # the week before
    # Meta answered that week's sends in 0.2 s, and one call in 2.5 s.
    calls = [timings.Call(monday.timestamp(), "send_template", 0.2, False)] * 19
    calls.append(timings.Call(monday.timestamp(), "send_template", 2.5, True))
    async with db.session() as session:
        await graph_times.add(session, graph_times.rows_of(calls))
        await session.commit()

    report = await weekly_report.build(db, actor=Actor.system(), first_day=WEEK, zone=ISRAEL)

    assert (report.week.cohort, report.before.cohort) == (4, 1)
    assert [day.cohort for day in report.days] == [0, 4, 0, 0, 0, 0, 0]
    rows = dict((name, (now, then)) for name, now, then in weekly_report.figures(report, "en"))
    assert rows["Delivery rate"] == ("75.0%", "100.0%")
    assert rows["Failure rate"] == ("25.0%", "0.0%")
    assert rows["Meta's answer time, 95th percentile"] == ("200 ms", "—")

    sunday_morning = datetime(2026, 11, 22, 8, 0, tzinfo=ISRAEL)
    sent = await weekly_report.send(db, alert_settings, sunday_morning)

    inbox = smtp[0]
    assert sent == 2 == len(inbox.messages)
    message = inbox.messages[0]
    assert message["Subject"] == "[OvenAI] Weekly report 15/11/2026 – 21/11/2026"
    html = message.get_body(preferencelist=("html",)).get_content()
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert '<html lang="en" dir="ltr">' in html and "75.0%" in html and "131026" in html
    assert "Delivery rate: 75.0% (The week before: 100.0%)" in text


def test_the_hebrew_e_mail_reads_right_to_left() -> None:
    empty = weekly_report.WeeklyReport(
        first_day=WEEK,
        week=_nothing(),
        before=_nothing(),
        days=[],
    )
    subject, text, html = weekly_report.render_email(empty, "he", ISRAEL)
    assert subject == "[OvenAI] דוח שבועי 15/11/2026 – 21/11/2026"
    assert '<html lang="he" dir="rtl">' in html and "שיעור מסירה" in html
    assert "שיעור מסירה: — (שבוע קודם: —)" in text


def _nothing() -> weekly_report.kpis.Report:
    kpis = weekly_report.kpis
    start = datetime(2026, 11, 15, tzinfo=ISRAEL)
    return kpis.Report(
        start=start,
        end=start + timedelta(days=7),
        cohort=0,
        delivered=0,
        read=0,
        failed=0,
        still_sent=0,
        delivery_rate=None,
        read_rate=None,
        failure_rate=None,
        top_errors=[],
        templates=[],
        leads_written=0,
        leads_replied=0,
        reply_rate=None,
        webhook_processing=kpis.Timing(),
        first_responses=kpis.FirstResponses(),
    )
