"""/api/v1/kpis: an admin reads a period's key figures; agents and bad periods are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from ovenai.db import open_database
from ovenai.models import Direction, Message
from ovenai.settings import Settings
from support.aio import run_async

DAY = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
PERIOD = {"start": "2026-11-01T00:00:00+02:00", "end": "2026-11-08T00:00:00+02:00"}


def _messages(settings: Settings, lead_id: str) -> None:
    async def work() -> None:
        db = open_database(settings)
        try:
            await db.start()
            async with db.session() as session:
                for status, template in (
                    ("read", "welcome_new_lead_he"),
                    ("delivered", "welcome_new_lead_he"),
                    ("failed", "property_details_he"),
                    ("sent", None),
                ):
                    failed = status == "failed"
                    session.add(
                        Message(
                            lead_id=lead_id,
                            direction=Direction.OUTBOUND,
                            type="template" if template else "text",
                            template_name=template,
                            status=status,
                            sent_at=None if failed else DAY,
                            failed_at=DAY if failed else None,
                            error_code=131026 if failed else None,
                            error_title="Message undeliverable" if failed else None,
                        )
                    )
                session.add(
                    Message(
                        lead_id=lead_id,
                        direction=Direction.INBOUND,
                        type="text",
                        status="received",
                        created_at=DAY + timedelta(hours=1),
                    )
                )
                await session.commit()
        finally:
            await db.dispose()

    run_async(work)


def test_an_admin_reads_the_figures_of_a_period(admin: httpx.Client, clean_db: Settings) -> None:
    lead = admin.post("/api/v1/leads", json={"name": "דנה לוי", "phone": "050-234-5678"}).json()
    _messages(clean_db, lead["id"])

    answer = admin.get("/api/v1/kpis", params=PERIOD)

    assert answer.status_code == 200
    figures = answer.json()
    assert figures["start"] == "2026-11-01T00:00:00+02:00"  # shown in the agency's zone
    assert (figures["cohort"], figures["delivered"], figures["read"], figures["failed"]) == (
        4,
        2,
        1,
        1,
    )
    assert (figures["delivery_rate"], figures["failure_rate"]) == (0.5, 0.25)
    assert figures["top_errors"] == [{"code": 131026, "title": "Message undeliverable", "count": 1}]
    assert [(t["family"], t["sent"], t["share"]) for t in figures["templates"]] == [
        ("welcome_new_lead", 2, round(2 / 3, 4)),
        ("property_details", 1, round(1 / 3, 4)),
    ]
    assert (figures["leads_written"], figures["leads_replied"], figures["reply_rate"]) == (
        1,
        1,
        1.0,
    )
    assert figures["first_responses"]["turns"] == 1
    assert figures["first_responses"]["unanswered"] == 1
    # No Graph API call was made in the period: its timing is empty, not missing.
    assert figures["graph_api"] == {
        "count": 0,
        "mean_s": None,
        "median_s": None,
        "p95_s": None,
        "max_s": None,
    }
    assert figures["graph_api_failed"] == 0


def test_agents_and_periods_that_make_no_sense_are_refused(
    admin: httpx.Client, agent: httpx.Client
) -> None:
    assert agent.get("/api/v1/kpis").status_code == 403
    backwards = admin.get("/api/v1/kpis", params={"start": PERIOD["end"], "end": PERIOD["start"]})
    assert backwards.status_code == 422 and backwards.json()["field"] == "end"
    naive = admin.get("/api/v1/kpis", params=PERIOD | {"start": "2026-11-01T00:00:00"})
    assert naive.status_code == 200  # a time without an offset is Israel time
    assert naive.json()["start"] == "2026-11-01T00:00:00+02:00"
    assert admin.get("/api/v1/kpis").status_code == 200  # the last 7 days
