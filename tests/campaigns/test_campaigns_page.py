"""The campaigns pages: an admin previews a listing's campaign from its page, starts,
pauses, resumes and cancels it in a real browser (Hebrew); the pages in English; agents
are told there is no such page."""

from __future__ import annotations

from typing import Any

import httpx

from campaigns.conftest import seed_cast
from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import PASSWORD, csrf_of, make_user, sign_in
from web.dashboard.conftest import browser_client  # noqa: F401  (a fixture of these tests)

ADMIN = "boss@agency.co.il"


def test_an_admin_previews_starts_pauses_resumes_and_cancels_a_campaign(
    browser: Any, server: Any, clean_db: Settings
) -> None:
    make_user(clean_db, ADMIN, Role.ADMIN)
    cast = seed_cast(clean_db, clean_db.whatsapp_business_account_id or "")
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{server.url}/login")
        page.fill("input[name=email]", ADMIN)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/")
        page.goto(f"{server.url}/properties/{cast.property_id}")
        page.click("text=תצוגה מקדימה של קמפיין ללידים האלה")
        page.wait_for_url(f"{server.url}/campaigns/new?property_id=*")
        assert page.locator("table.campaign-recipients tbody tr").count() == 3
        excluded = page.locator("table.campaign-excluded").inner_text()
        assert "ביקש להסיר אותו מהודעות שיווקיות" in excluded
        assert "לא נרשם בסיס חוקי לשיווק" in excluded
        assert "נועה כהן" in page.locator("table.campaign-recipients").inner_text()
        assert "5 לידים אינם מתאימים" in page.locator("p.summary").inner_text()

        page.click("button.start-campaign")
        page.wait_for_url(f"{server.url}/campaigns/0*")
        assert page.locator(".campaign-status").inner_text() == "פעיל"
        assert page.locator("[data-total=queued]").inner_text() == "3"
        assert page.locator("[data-total=excluded]").inner_text() == "2"
        assert page.locator("[data-total=recipients]").inner_text() == "5"

        page.click("button[value=pause]")
        page.wait_for_selector(".campaign-status:text('מושהה')")
        page.click("button[value=resume]")
        page.wait_for_selector(".campaign-status:text('פעיל')")
        page.click("button[value=cancel]")
        page.wait_for_selector(".campaign-status:text('בוטל')")
        assert page.locator("[data-total=cancelled]").inner_text() == "3"
        assert page.locator("tr[data-outcome=cancelled]").count() == 3
        assert page.locator("button[value=resume]").count() == 0

        page.click("header >> text=קמפיינים")
        page.wait_for_url(f"{server.url}/campaigns")
        assert page.locator("table.campaigns tbody tr").count() == 1
        assert page.locator("table.campaigns .campaign-status").inner_text() == "בוטל"
    finally:
        page.close()
    assert errors == []


def test_the_campaign_pages_in_english_and_hidden_from_agents(
    browser_client: httpx.Client,  # noqa: F811
    clean_db: Settings,
) -> None:
    make_user(clean_db, ADMIN, Role.ADMIN)
    make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    cast = seed_cast(clean_db, clean_db.whatsapp_business_account_id or "")
    sign_in(browser_client, ADMIN)
    token = csrf_of(browser_client.get("/account"))
    browser_client.post("/account/language", data={"language": "en", "csrf": token})

    preview = browser_client.get("/campaigns/new", params={"property_id": cast.property_id})
    assert preview.status_code == 200
    assert '<html lang="en" dir="ltr">' in preview.text
    assert "3 leads will be sent the listing" in preview.text
    assert "Opted out of marketing" in preview.text
    started = browser_client.post(
        "/campaigns", data={"property_id": cast.property_id, "csrf": csrf_of(preview)}
    )
    assert started.status_code == 303
    report = browser_client.get(started.headers["location"])
    assert "Running" in report.text
    refused = browser_client.post(
        started.headers["location"] + "/resume", data={"csrf": csrf_of(report)}
    )
    assert refused.status_code == 409
    assert "The campaign&#39;s status does not allow that." in refused.text
    assert browser_client.post(started.headers["location"] + "/pause").status_code == 403
    assert '<a href="/campaigns">Campaigns</a>' in browser_client.get("/campaigns").text

    browser_client.post("/logout", data={"csrf": csrf_of(report)})
    sign_in(browser_client, "dana@agency.co.il")
    assert browser_client.get("/campaigns").status_code == 404
    assert 'href="/campaigns"' not in browser_client.get("/").text
