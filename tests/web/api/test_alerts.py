"""/api/v1/alerts: admins list and acknowledge alerts; agents are refused."""

from __future__ import annotations

import httpx

from ovenai.alerts import Said, raise_alert
from ovenai.db import open_database
from ovenai.settings import Settings
from support.aio import run_async


def _raise(settings: Settings) -> None:
    async def work() -> None:
        db = open_database(settings)
        try:
            await db.start()
            async with db.session() as session:
                await raise_alert(
                    session, kind="outbox_stuck", severity="critical", said=Said("stuck", "תקוע")
                )
                await session.commit()
        finally:
            await db.dispose()

    run_async(work)


def test_admins_list_and_acknowledge_alerts(
    admin: httpx.Client, agent: httpx.Client, clean_db: Settings
) -> None:
    _raise(clean_db)

    listed = admin.get("/api/v1/alerts", params={"state": "open"})
    assert listed.status_code == 200
    (alert,) = listed.json()
    assert (alert["kind"], alert["severity"], alert["acknowledged_at"]) == (
        "outbox_stuck",
        "critical",
        None,
    )

    acked = admin.post(f"/api/v1/alerts/{alert['id']}/acknowledge")
    assert acked.status_code == 200 and acked.json()["acknowledged_at"] is not None
    assert admin.post("/api/v1/alerts/nope/acknowledge").status_code == 404
    assert agent.get("/api/v1/alerts").status_code == 403
    assert agent.post(f"/api/v1/alerts/{alert['id']}/acknowledge").status_code == 403
