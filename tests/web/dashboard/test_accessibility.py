"""Every dashboard page, in Hebrew and English, on a phone (390 px) and a desktop: no sideways
scroll on the phone, and axe-core (through Playwright, Debian's chromium) finds no serious or
critical violation. The pages hold real data: a lead with a conversation, a listing with a
photo, a viewing, a campaign draft, a notification."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe

from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import PASSWORD, make_user
from support.webhooks import post_text

ADMIN = "boss@agency.co.il"
PHOTO = Path(__file__).parents[2] / "fixtures" / "property_files" / "living_room.jpg"
SERIOUS = ("serious", "critical")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SCREENSHOTS = Path(__file__).parents[3] / "var" / "test-artifacts" / "screenshots"
"""Where the inbox, a lead's page and the board are photographed, per language and width
(kept after the run, beside the coverage report; nothing checks them: they are for people)."""
SHOWN = {"/": "inbox", "/pipeline": "board"}


def _seed(admin: httpx.Client, anonymous: httpx.Client) -> dict[str, str]:
    """A listing with a photo, a lead who wrote about it, a viewing: their ids."""
    listing = admin.post(
        "/api/v1/properties",
        json={"title": "דירת 4 חדרים בכרמל", "city": "חיפה", "rooms": 4, "price": 2_450_000},
    ).json()["id"]
    files = {"file": ("salon.jpg", PHOTO.read_bytes(), "image/jpeg")}
    admin.post(f"/api/v1/properties/{listing}/files", data={"role": "photo"}, files=files)
    lead = admin.post(
        "/api/v1/leads",
        json={"name": "נועה כהן", "phone": "0501112299", "property_id": listing},
    ).json()["id"]
    post_text(anonymous, "972501112299", "היי, הדירה בכרמל עוד פנויה?", int(time.time()) - 60)
    deadline = time.monotonic() + 15
    while not admin.get(f"/api/v1/leads/{lead}/messages").json():
        assert time.monotonic() < deadline, "the lead's message was never applied"
        time.sleep(0.05)
    admin.post(
        "/api/v1/meetings",
        json={"lead_id": lead, "property_id": listing, "starts_at": "2049-03-01T10:30:00"},
    )
    return {"listing": listing, "lead": lead}


def _pages(ids: dict[str, str]) -> list[str]:
    return [
        "/",
        f"/leads/{ids['lead']}",
        "/pipeline",
        "/meetings",
        "/properties",
        f"/properties/{ids['listing']}",
        "/properties/new",
        "/campaigns",
        f"/campaigns/new?property_id={ids['listing']}",
        "/leads/import",
        "/notifications",
        "/account",
        "/admin/users",
        "/admin/alerts",
        "/admin/automation",
        "/admin/metrics",
        "/admin/webhooks",
    ]


# The innermost elements reaching past the viewport's edge (what makes a page scroll sideways).
_WIDEST = """() => {
  const width = window.innerWidth;
  const over = [...document.querySelectorAll('body *')].filter(e => {
    const box = e.getBoundingClientRect();
    return box.width > 0 && (box.right > width + 1 || box.left < -1);
  });
  const innermost = over.filter(e => !over.some(o => o !== e && e.contains(o)));
  const name = e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '');
  return innermost.slice(0, 3).map(name);
}"""


def _problems(page: Any, axe: Axe, path: str, size: dict[str, int]) -> list[str]:
    found = []
    if size is PHONE:
        wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if wide > 1:
            culprits = page.evaluate(_WIDEST)
            found.append(f"{path} at 390 px scrolls sideways by {wide} px: {culprits}")
    for violation in axe.run(page).response["violations"]:
        if violation.get("impact") in SERIOUS:
            where = [node["target"] for node in violation["nodes"]][:3]
            found.append(f"{path}: {violation['id']} ({violation['impact']}) at {where}")
    return found


@pytest.mark.parametrize("language", ["he", "en"])
def test_every_page_fits_a_phone_and_has_no_serious_accessibility_violation(
    browser: Any,
    server: Any,
    admin: httpx.Client,
    anonymous: httpx.Client,
    clean_db: Settings,
    language: str,
) -> None:
    ids = _seed(admin, anonymous)
    make_user(clean_db, ADMIN, Role.ADMIN)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    problems: list[str] = []
    for size in (PHONE, DESKTOP):
        context = browser.new_context(viewport=size)
        page = context.new_page()
        try:
            page.goto(f"{server.url}/login?lang={language}")
            problems += _problems(page, axe, "/login", size)
            page.fill("input[name=email]", ADMIN)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{server.url}/")
            page.goto(f"{server.url}/account")  # the user's own language, as a user sets it
            page.select_option("form.language select[name=language]", language)
            page.click("form.language button[type=submit]")
            page.wait_for_load_state()
            for path in _pages(ids):
                page.goto(f"{server.url}{path}")
                assert page.locator("html").get_attribute("lang") == language, path
                problems += _problems(page, axe, path, size)
                name = SHOWN.get(path, "lead" if path == f"/leads/{ids['lead']}" else None)
                if name is not None:
                    width = "phone" if size is PHONE else "desktop"
                    shot = SCREENSHOTS / f"{name}-{language}-{width}.png"
                    page.screenshot(path=str(shot), full_page=True)
        finally:
            context.close()
    assert problems == [], "\n".join(problems)
