"""The inbox page over real HTTP, with leads written through the API and messages through the
webhook as Meta posts them: the most recently active first, unread counts that reset when the
lead is opened, needs-reply and window marks, filters, search by a part of the phone, paging,
the rows the live refresh fetches, and Hebrew right to left and English."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import csrf_of, make_user, sign_in, sign_in_page
from support.webhooks import post_text

APP_SECRET = "test-app-secret"  # tests/conftest.py TEST_APP_SECRET
HEBREW = re.compile(r"[\u0590-\u05ff]")


def _lead(admin: httpx.Client, name: str, phone: str, **fields: object) -> str:
    answer = admin.post("/api/v1/leads", json={"name": name, "phone": phone, **fields})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _rows(page: httpx.Response) -> list[list[str]]:
    """The cells of the inbox table's body, as text."""
    body = page.text.split('<table class="leads">', 1)[1].split("</table>", 1)[0]
    body = body.split("<tbody", 1)[1]
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def _names(page: httpx.Response) -> list[str]:
    return [row[0] for row in _rows(page)]


def _until(
    client: httpx.Client, path: str, check: Callable[[httpx.Response], bool]
) -> httpx.Response:
    """The page once ``check(page)`` holds (the webhook is applied in the background)."""
    deadline = time.monotonic() + 15
    while not check(page := client.get(path)):
        assert time.monotonic() < deadline, f"{path} never showed what was expected"
        time.sleep(0.05)
    return page


def test_a_lead_who_writes_jumps_to_the_top_unread_until_the_lead_is_opened(
    browser_client: httpx.Client, admin: httpx.Client, anonymous: httpx.Client, clean_db: Settings
) -> None:
    writer = _lead(admin, "יעל כהן", "050-111-2201")
    _lead(admin, "אבי לוי", "050-111-2202")
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    sign_in(browser_client, "rina@agency.co.il")
    assert _names(browser_client.get("/")) == ["אבי לוי", "יעל כהן"]
    time.sleep(1.1)  # Meta's timestamps are whole seconds: the last one after both leads
    now = int(time.time())
    post_text(anonymous, "972501112201", "שלום, הדירה עוד פנויה?", now - 60, name="Someone")
    post_text(anonymous, "972501112201", "אפשר לבוא לראות מחר?", now, name="Someone")
    page = _until(browser_client, "/", lambda p: _names(p)[0] == "יעל כהן")
    top = _rows(page)[0]
    assert top[4] == "אפשר לבוא לראות מחר?"  # the latest message
    assert top[5] == "ממתין לתשובה 2"  # needs a reply, two unread
    assert top[6].startswith("פתוח, נותרו 23 ש׳")
    assert _rows(page)[1][5] == "" and _rows(page)[1][6] == "סגור"
    assert browser_client.get(f"/leads/{writer}").status_code == 200
    assert _rows(browser_client.get("/"))[0][5] == "ממתין לתשובה"  # read now, not answered
    rows = browser_client.get("/inbox/rows")  # what the live refresh puts in place
    assert rows.status_code == 200 and "<html" not in rows.text
    assert "אפשר לבוא לראות מחר?" in rows.text
    assert 'src="/static/inbox.js"' in page.text
    script = browser_client.get("/static/inbox.js")
    assert script.status_code == 200 and "setInterval(refresh, 5000)" in script.text
    assert 'data-refresh="/inbox/rows?' in page.text


def test_filters_search_by_part_of_the_phone_and_who_sees_what(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    me = make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    other = make_user(clean_db, "avi@agency.co.il", Role.AGENT)
    _lead(admin, "Orit Golan", "050-123-4567", stage="contacted", source="portal")
    _lead(admin, "Shimon Peretz", "052-765-4321", assigned_agent_id=me, engagement_score=80)
    _lead(admin, "Not Hers", "054-000-1111", assigned_agent_id=other)
    sign_in(browser_client, "dana@agency.co.il")
    assert _names(browser_client.get("/")) == ["Shimon Peretz", "Orit Golan"]
    for query in ("050-123", "4567", "+972 50", "0501234567"):
        assert _names(browser_client.get("/", params={"q": query})) == ["Orit Golan"], query
    assert _names(browser_client.get("/", params={"q": "1111"})) == ["אין לידים להצגה"]
    assert _names(browser_client.get("/", params={"q": "shim"})) == ["Shimon Peretz"]
    short = browser_client.get("/", params={"q": "050"})
    assert short.status_code == 200 and 'aria-invalid="true"' in short.text
    assert "לפחות 4 ספרות" in short.text
    empty = {"stage": "", "source": "", "agent": "", "min_score": "", "q": ""}
    assert len(_rows(browser_client.get("/", params=empty))) == 2  # empty fields: any
    for params, names in (
        ({"stage": "contacted"}, ["Orit Golan"]),
        ({"source": "portal"}, ["Orit Golan"]),
        ({"agent": me}, ["Shimon Peretz"]),
        ({"min_score": "50"}, ["Shimon Peretz"]),
    ):
        assert _names(browser_client.get("/", params=params)) == names, params
    page = browser_client.get("/", params={"stage": "contacted"})
    assert '<option value="contacted" selected>' in page.text
    assert browser_client.get("/", params={"stage": "nonsense"}).status_code == 422


def test_the_next_page_link_goes_through_every_lead_once(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    for n in range(55):
        _lead(admin, f"Lead {n:02d}", f"050-900-{n:04d}")
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    sign_in(browser_client, "boss@agency.co.il")
    first = browser_client.get("/", params={"stage": "new"})
    assert len(_rows(first)) == 50
    link = re.search(r'<a rel="next" href="([^"]+)"', first.text)
    assert link
    href = link.group(1).replace("&amp;", "&")
    assert parse_qs(urlparse(href).query)["stage"] == ["new"]  # the filters are kept
    second = browser_client.get(href)
    assert len(_rows(second)) == 5 and 'rel="next"' not in second.text
    names = _names(first) + _names(second)
    assert sorted(names) == [f"Lead {n:02d}" for n in range(55)]


def test_the_inbox_in_hebrew_right_to_left_and_in_english(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    _lead(admin, "Orit Golan", "050-123-4567")
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    sign_in(browser_client, "boss@agency.co.il")
    hebrew = browser_client.get("/")
    assert '<html lang="he" dir="rtl">' in hebrew.text
    for words in ("הודעה אחרונה", "חלון שיחה", "ממתין לתשובה", "סינון", "מקור", "טופס באתר"):
        assert words in hebrew.text, words
    token = csrf_of(browser_client.get("/account"))
    answer = browser_client.post("/account/language", data={"language": "en", "csrf": token})
    assert answer.status_code == 303
    english = browser_client.get("/")
    assert '<html lang="en" dir="ltr">' in english.text
    for words in ("Latest message", "Window", "Needs reply", "Filter", "Source", "Web form"):
        assert words in english.text, words
    table = english.text.split('<table class="leads">', 1)[1]
    assert not HEBREW.search(table.split("</table>", 1)[0])


def test_a_new_message_appears_in_the_open_inbox_without_reloading(
    browser: Any,
    server: Any,
    admin: httpx.Client,
    anonymous: httpx.Client,
    clean_db: Settings,
) -> None:
    _lead(admin, "יעל כהן", "050-111-2201")
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        sign_in_page(page, server.url, "rina@agency.co.il")
        page.evaluate("window.notReloaded = true")
        post_text(anonymous, "972501112201", "מתי אפשר לראות?", int(time.time()), name="Someone")
        table = page.locator("table.leads tbody")
        table.get_by_text("מתי אפשר לראות?").wait_for(timeout=12_000)
        assert "ממתין לתשובה" in table.inner_text()
        assert page.evaluate("window.notReloaded") is True  # the rows came, not a new page
        assert errors == []
    finally:
        page.close()


# What scrolls sideways on a page: the document itself, and any table's scroller (a table
# wider than its box hides its last columns behind a scrollbar of its own).
_SIDEWAYS = """() => {
  const root = document.documentElement;
  const found = [];
  if (root.scrollWidth > root.clientWidth) found.push(`page ${root.scrollWidth}`);
  for (const box of document.querySelectorAll('.inbox-scroll, .table-scroll')) {
    const over = box.scrollWidth - box.clientWidth;
    if (over > 1) found.push(`${box.className} scrolls ${over} px`);
  }
  return found;
}"""


@pytest.mark.parametrize("language", ["he", "en"])
def test_the_inbox_and_a_lead_fit_a_1280_px_screen_without_scrolling_sideways(
    browser: Any,
    server: Any,
    admin: httpx.Client,
    anonymous: httpx.Client,
    clean_db: Settings,
    language: str,
) -> None:
    """A laptop's 1280×800, in Hebrew (right to left) and English: the inbox with every
    column filled as wide as it gets (a long name, a message of 80 characters and more, needs
    reply with unread messages, the window's time left, an agent's long e-mail) and the lead's
    page fit across, with nothing to scroll sideways."""
    agent = "rina.ben-david.senior-agent@agency-tel-aviv.co.il"
    agent_id = make_user(clean_db, agent, Role.AGENT)
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    name = "אלכסנדרה בן-דוד רוזנברג-כהנוביץ׳"
    writer = _lead(admin, name, "050-111-2201", assigned_agent_id=agent_id)
    _lead(admin, "Maximilian Alexander Rosenberg-Kahanovich", "050-111-2202")
    now = int(time.time())
    text = "שלום, ראיתי את הדירה ברחוב הרצל 12 – האם היא עדיין פנויה? I can come tomorrow 10:30"
    post_text(anonymous, "972501112201", text, now - 60, name="Someone")
    post_text(anonymous, "972501112201", text + " (again)", now, name="Someone")
    _until(admin, f"/api/v1/leads/{writer}/messages", lambda p: len(p.json()) == 2)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        sign_in_page(page, server.url, "boss@agency.co.il")
        page.goto(f"{server.url}/account")
        page.select_option("form.language select[name=language]", language)
        page.click("form.language button[type=submit]")
        page.wait_for_load_state()
        for path in ("/", f"/leads/{writer}"):
            page.goto(f"{server.url}{path}")
            assert page.locator("html").get_attribute("lang") == language
            if path == "/":
                assert page.locator("table.leads tbody tr").count() == 2
                assert page.locator("table.leads .needs-reply").count() == 1
            root = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert root[0] <= root[1], f"{path} ({language}) scrolls sideways: {root}"
            assert page.evaluate(_SIDEWAYS) == [], path
    finally:
        context.close()
