"""The dashboard in a real headless browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import PASSWORD, make_user, sign_in_page


def test_an_agent_signs_in_and_reads_the_inbox_in_hebrew(
    browser: Any, server: Any, admin: httpx.Client, clean_db: Settings, tmp_path: Path
) -> None:
    agent_id = make_user(clean_db, "dana.agent@agency.co.il", Role.AGENT)
    body = {"name": "יעל כהן", "phone": "0509876543", "assigned_agent_id": agent_id}
    assert admin.post("/api/v1/leads", json=body).status_code == 201
    page = browser.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    try:
        sign_in_page(page, server.url, "dana.agent@agency.co.il")
        assert page.locator("table.leads").inner_text().count("יעל כהן") == 1
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        page.click("text=יעל כהן")
        page.wait_for_url(f"{server.url}/leads/*")
        assert page.locator("h1").inner_text() == "יעל כהן"
        page.screenshot(path=str(tmp_path / "lead.png"))
    finally:
        page.close()
    assert errors == []


def test_a_user_switches_the_dashboard_to_english_and_back(
    browser: Any, server: Any, clean_db: Settings
) -> None:
    make_user(clean_db, "dana.agent@agency.co.il", Role.AGENT)
    page = browser.new_page()
    try:
        page.goto(f"{server.url}/login")
        page.click("text=English")  # the choice before signing in
        page.wait_for_selector("html[lang=en]")
        assert page.evaluate("getComputedStyle(document.body).direction") == "ltr"
        assert page.locator("h1").inner_text() == "Sign in"
        page.fill("input[name=email]", "dana.agent@agency.co.il")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_url(f"{server.url}/")
        assert page.locator("h1").inner_text() == "לידים"  # her own language wins: Hebrew
        page.goto(f"{server.url}/account")
        page.select_option("select[name=language]", "en")
        page.click("form.language button[type=submit]")
        page.wait_for_selector("html[lang=en]")
        assert page.locator("h1").inner_text() == "My account"
        assert page.evaluate("getComputedStyle(document.body).direction") == "ltr"
    finally:
        page.close()
