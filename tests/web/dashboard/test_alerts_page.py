"""The admins' alerts page and the banner of open critical alerts; agents see neither."""

from __future__ import annotations

import httpx

from ovenai.alerts import Said, raise_alert
from ovenai.db import open_database
from ovenai.models import Role
from ovenai.settings import Settings
from support.aio import run_async
from support.dashboard import csrf_of, make_user, sign_in


def _raise(settings: Settings, kind: str, severity: str) -> None:
    async def work() -> None:
        db = open_database(settings)
        try:
            await db.start()
            async with db.session() as session:
                await raise_alert(
                    session,
                    kind=kind,
                    severity=severity,
                    said=Said(f"{kind} happened", f"{kind} קרה"),
                )
                await session.commit()
        finally:
            await db.dispose()

    run_async(work)


def test_an_admin_sees_the_banner_and_acknowledges_and_an_agent_sees_neither(
    browser_client: httpx.Client, clean_db: Settings
) -> None:
    make_user(clean_db, "owner@agency.co.il", Role.ADMIN)
    make_user(clean_db, "dana.agent@agency.co.il", Role.AGENT)
    sign_in(browser_client, "owner@agency.co.il")
    assert 'role="alert"' not in browser_client.get("/").text  # nothing open: no banner

    _raise(clean_db, "outbox_stuck", "critical")
    _raise(clean_db, "key_rotation_due", "warning")

    home = browser_client.get("/")
    assert "התראה קריטית אחת פתוחה" in home.text and 'href="/admin/alerts"' in home.text
    page = browser_client.get("/admin/alerts")
    assert page.status_code == 200 and "התראות פתוחות" in page.text
    assert "outbox_stuck קרה" in page.text and "key_rotation_due קרה" in page.text  # Hebrew reader
    assert page.text.count("אישור קריאה") == 2
    action = page.text.split('action="/admin/alerts/')[1].split('"')[0]
    done = browser_client.post(
        f"/admin/alerts/{action}", data={"csrf": csrf_of(page)}, follow_redirects=True
    )
    assert done.status_code == 200 and done.text.count("אישור קריאה") == 1

    browser_client.cookies.clear()
    sign_in(browser_client, "dana.agent@agency.co.il")
    assert browser_client.get("/admin/alerts").status_code == 404
    assert 'role="alert"' not in browser_client.get("/").text
