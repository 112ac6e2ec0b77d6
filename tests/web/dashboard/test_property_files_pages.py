"""A listing's photos and brochure on the dashboard: an admin adds them on the listing's page
(a wrong file refused with the reason beside the form), agents see the server's thumbnails
and download the files but get no upload form, and an agent sends a photo from the lead's
page while the window is open (a real browser), which queues an ``image`` message."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx

from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import csrf_of, make_user, sign_in, sign_in_page
from support.webhooks import post_text

FIXTURES = Path(__file__).parents[2] / "fixtures" / "property_files"
PHOTO_PATH = FIXTURES / "living_room.jpg"
BROCHURE = (FIXTURES / "brochure.pdf").read_bytes()
ADMIN = "boss@agency.co.il"
AGENT = "dana.agent@agency.co.il"


def _listing(admin: httpx.Client) -> str:
    body = {"title": "דירת גן בכרמל", "city": "חיפה", "rooms": 4, "price": 2_450_000}
    answer = admin.post("/api/v1/properties", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _post_file(
    client: httpx.Client, listing: str, role: str, data: bytes, name: str
) -> httpx.Response:
    token = csrf_of(client.get("/account"))  # the session's token, from any page with a form
    return client.post(
        f"/properties/{listing}/files",
        data={"csrf": token, "role": role},
        files={"file": (name, data, "application/octet-stream")},
    )


def test_an_admin_adds_photos_and_a_brochure_and_a_wrong_file_is_refused_beside_the_form(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    make_user(clean_db, ADMIN, Role.ADMIN)
    sign_in(browser_client, ADMIN)
    listing = _listing(admin)
    assert "אין עדיין תמונות." in browser_client.get(f"/properties/{listing}").text

    refused = _post_file(browser_client, listing, "photo", BROCHURE, "x.jpg")
    assert refused.status_code == 422
    assert "תמונה חייבת להיות קובץ JPEG או PNG, וחוברת קובץ PDF." in refused.text
    added = _post_file(browser_client, listing, "photo", PHOTO_PATH.read_bytes(), "סלון.jpg")
    assert added.status_code == 303 and added.headers["location"].endswith("#files")
    _post_file(browser_client, listing, "brochure", BROCHURE, "חוברת.pdf")

    page = browser_client.get(f"/properties/{listing}").text
    (photo_id,) = re.findall(rf'src="/properties/{listing}/files/([^/"]+)/thumbnail"', page)
    thumbnail = browser_client.get(f"/properties/{listing}/files/{photo_id}/thumbnail")
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert thumbnail.content.startswith(b"\xff\xd8\xff")
    assert len(thumbnail.content) < PHOTO_PATH.stat().st_size  # never the original
    assert "חוברת.pdf" in page and 'enctype="multipart/form-data"' in page

    removed = browser_client.post(
        f"/properties/{listing}/files/{photo_id}/remove",
        data={"csrf": csrf_of(browser_client.get(f"/properties/{listing}"))},
    )
    assert removed.status_code == 303
    assert [f["role"] for f in admin.get(f"/api/v1/properties/{listing}/files").json()] == [
        "brochure"
    ]


def test_agents_see_the_files_but_cannot_add_or_remove_them_and_csrf_is_required(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings, anonymous: httpx.Client
) -> None:
    listing = _listing(admin)
    files = {"file": ("a.jpg", PHOTO_PATH.read_bytes(), "image/jpeg")}
    photo = admin.post(f"/api/v1/properties/{listing}/files", data={"role": "photo"}, files=files)
    make_user(clean_db, AGENT, Role.AGENT)
    sign_in(browser_client, AGENT)

    page = browser_client.get(f"/properties/{listing}")
    assert f"/files/{photo.json()['id']}/thumbnail" in page.text
    assert 'enctype="multipart/form-data"' not in page.text and "הסרה" not in page.text
    download = browser_client.get(f"/properties/{listing}/files/{photo.json()['id']}")
    assert download.content == PHOTO_PATH.read_bytes()
    assert _post_file(
        browser_client, listing, "photo", PHOTO_PATH.read_bytes(), "b"
    ).status_code in (
        403,
        404,
    )
    no_token = browser_client.post(
        f"/properties/{listing}/files/{photo.json()['id']}/remove", data={}
    )
    assert no_token.status_code in (400, 403)
    signed_out = anonymous.get(f"/properties/{listing}/files/{photo.json()['id']}")
    assert signed_out.status_code != 200 and signed_out.content != PHOTO_PATH.read_bytes()


def test_an_agent_sends_a_listing_photo_from_the_lead_page_in_the_browser(
    browser: Any,
    server: Any,
    admin: httpx.Client,
    anonymous: httpx.Client,
    clean_db: Settings,
    browser_client: httpx.Client,
) -> None:
    agent_id = make_user(clean_db, AGENT, Role.AGENT)
    make_user(clean_db, ADMIN, Role.ADMIN)
    listing = _listing(admin)
    lead = admin.post(
        "/api/v1/leads",
        json={
            "name": "נועה",
            "phone": "0501112233",
            "assigned_agent_id": agent_id,
            "property_id": listing,
        },
    ).json()["id"]
    post_text(anonymous, "972501112233", "יש תמונות של הדירה?", int(time.time()) - 600)
    sign_in(browser_client, AGENT)
    deadline = time.monotonic() + 15
    while "החלון פתוח" not in browser_client.get(f"/leads/{lead}").text:
        assert time.monotonic() < deadline, "the lead's message was never applied"
        time.sleep(0.05)
    page = browser.new_page()  # the admin's browser
    try:
        sign_in_page(page, server.url, ADMIN)
        page.goto(f"{server.url}/properties/{listing}")
        page.select_option("form.add-file select[name=role]", "photo")
        page.set_input_files("form.add-file input[name=file]", str(PHOTO_PATH))
        page.click("form.add-file button[type=submit]")
        page.wait_for_url(re.compile(rf".*/properties/{listing}#files"))
        assert page.locator("ul.gallery img").count() == 1
        page.locator("ul.gallery img").scroll_into_view_if_needed()  # loading="lazy"
        # A function, not an expression: Playwright evals a polled expression,
        # which the page's Content-Security-Policy refuses.
        natural = page.locator("ul.gallery img").evaluate(
            "img => img.complete ? img.naturalWidth : new Promise(done =>"
            " img.addEventListener('load', () => done(img.naturalWidth)))"
        )
        assert 0 < natural <= 320  # the server's thumbnail has loaded

    finally:
        page.close()
    page = browser.new_page()  # the agent's, a browser of its own
    try:
        sign_in_page(page, server.url, AGENT)
        page.goto(f"{server.url}/leads/{lead}")
        group = page.locator("#compose-file optgroup").first.get_attribute("label") or ""
        assert group.startswith("דירת גן בכרמל") and "הנכס שהליד שאל עליו" in group
        page.fill("#compose-caption", "הסלון")
        page.click("form.compose-file button[type=submit]")
        page.wait_for_url(f"{server.url}/leads/{lead}")
        assert "הסלון" in page.locator("section.conversation").inner_text()
    finally:
        page.close()
    sent = [
        m
        for m in admin.get(f"/api/v1/leads/{lead}/messages").json()
        if m["direction"] == "outbound"
    ]
    assert [(m["type"], m["text"]) for m in sent] == [("image", "הסלון")]
