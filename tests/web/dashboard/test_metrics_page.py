"""The admins' key-figures page: the period's figures, its daily chart, its errors."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from ovenai import graph_times
from ovenai.cloudapi import timings
from ovenai.columns import utcnow
from ovenai.models import Direction, Message, Role
from ovenai.settings import Settings
from support.aio import run_async
from support.dashboard import make_user, sign_in

ISRAEL = ZoneInfo("Asia/Jerusalem")


def _sent_today(settings: Settings, admin: httpx.Client) -> datetime:
    """A lead and three messages accepted an hour ago: read, delivered, failed (131026),
    with Meta's answer times; when they were accepted."""
    lead = admin.post("/api/v1/leads", json={"name": "דנה לוי", "phone": "050-234-5678"}).json()

    at = utcnow() - timedelta(hours=1)
    seconds = (0.25, 0.25, 1.3)

    async def work() -> None:
        from ovenai.db import open_database

        db = open_database(settings)
        try:
            await db.start()
            async with db.session() as session:
                for status in ("read", "delivered", "failed"):
                    failed = status == "failed"
                    session.add(
                        Message(
                            lead_id=lead["id"],
                            direction=Direction.OUTBOUND,
                            type="template",
                            template_name="welcome_new_lead_he",
                            status=status,
                            sent_at=None if failed else at,
                            failed_at=at if failed else None,
                            error_code=131026 if failed else None,
                            error_title="Message undeliverable" if failed else None,
                        )
                    )
                # Meta answered the three sends in 0.25, 0.25 and 1.3 s.
                calls = [timings.Call(at.timestamp(), "send_template", s, False) for s in seconds]
                await graph_times.add(session, graph_times.rows_of(calls))
                await session.commit()
        finally:
            await db.dispose()

    run_async(work)
    return at


def test_an_admin_sees_the_figures_and_the_chart_of_the_last_days(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    at = _sent_today(clean_db, admin)
    make_user(clean_db, "owner@agency.co.il", Role.ADMIN)
    sign_in(browser_client, "owner@agency.co.il")

    page = browser_client.get("/admin/metrics", params={"days": 7})

    assert page.status_code == 200
    text = page.text
    assert "שיעור מסירה" in text and "66.7%" in text  # two of three delivered
    assert "33.3%" in text  # the failure rate
    assert text.count('class="bar-delivered"') == 7  # one bar per day of the period
    day = at.astimezone(ISRAEL).strftime("%d/%m/%Y")
    assert f"{day}: 3 הודעות, 2 נמסרו, 1 נכשלו" in text
    assert "welcome_new_lead" in text and "131026" in text and "Message undeliverable" in text
    assert "זמן התשובה של שרתי וואטסאפ" in text and "על פני 3 קריאות" in text


def test_chosen_dates_that_run_backwards_are_refused_beside_the_form(
    browser_client: httpx.Client, clean_db: Settings
) -> None:
    make_user(clean_db, "owner@agency.co.il", Role.ADMIN)
    make_user(clean_db, "dana.agent@agency.co.il", Role.AGENT)
    sign_in(browser_client, "owner@agency.co.il")

    page = browser_client.get("/admin/metrics", params={"from": "2026-11-08", "to": "2026-11-01"})

    assert page.status_code == 422
    assert "היום האחרון לא יכול לבוא לפני הראשון." in page.text
    chosen = browser_client.get("/admin/metrics", params={"from": "2026-11-01", "to": "2026-11-03"})
    assert chosen.status_code == 200 and chosen.text.count('class="bar-delivered"') == 3

    browser_client.cookies.clear()
    sign_in(browser_client, "dana.agent@agency.co.il")
    assert browser_client.get("/admin/metrics").status_code == 404


def test_the_weekly_report_page_shows_last_week_beside_the_one_before(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    at = _sent_today(clean_db, admin)
    make_user(clean_db, "owner@agency.co.il", Role.ADMIN)
    sign_in(browser_client, "owner@agency.co.il")
    today = at.astimezone(ISRAEL).date()

    this_week = browser_client.get("/admin/reports/weekly", params={"week": today.isoformat()})
    week_before = (today - timedelta(days=7)).isoformat()
    last_week = browser_client.get("/admin/reports/weekly", params={"week": week_before})
    assert browser_client.get("/admin/reports/weekly").status_code == 200  # the last full week

    assert this_week.status_code == 200 and "דוח שבועי" in this_week.text
    assert "66.7%" in this_week.text and this_week.text.count('class="bar-delivered"') == 7
    sunday = today - timedelta(days=(today.weekday() + 1) % 7)
    assert f"{sunday:%d/%m/%Y} – {sunday + timedelta(days=6):%d/%m/%Y}" in this_week.text
    assert last_week.status_code == 200 and "66.7%" not in last_week.text
