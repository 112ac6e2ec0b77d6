"""The engagement score on the dashboard: the lead page says why (reasons in words, each
change and when), the inbox shows each lead's score and sorts by it; Hebrew right to left
and English."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from ovenai import engagement, hooks
from ovenai.models import Language, Role
from ovenai.settings import Settings
from support.dashboard import csrf_of, make_user, sign_in
from support.webhooks import post_text

APP_SECRET = "test-app-secret"  # tests/conftest.py TEST_APP_SECRET
WA_ID = "972501112233"
HEBREW = re.compile(r"[\u0590-\u05ff]")


@pytest.fixture
def scoring() -> Iterator[None]:
    """The score's hooks installed (the live server applies webhooks in this process)."""
    inbound, status = list(hooks.after_inbound), list(hooks.after_status)
    engagement.install()
    yield
    hooks.after_inbound[:] = inbound
    hooks.after_status[:] = status


def _scored(admin: httpx.Client, lead_id: str, score: int) -> None:
    deadline = time.monotonic() + 15
    while admin.get(f"/api/v1/leads/{lead_id}").json()["engagement_score"] != score:
        assert time.monotonic() < deadline, "the message was never scored"
        time.sleep(0.05)


def _lead(admin: httpx.Client, name: str, phone: str, score: int = 0, **fields: object) -> str:
    body = {"name": name, "phone": phone, "engagement_score": score, **fields}
    answer = admin.post("/api/v1/leads", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _rows(page: httpx.Response, table: str) -> list[list[str]]:
    """The cells of a table's body, as text."""
    body = page.text.split(f'<table class="{table}">', 1)[1].split("</table>", 1)[0]
    body = body.split("<tbody>", 1)[1]
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_the_lead_page_says_why_the_score_is_what_it_is_in_hebrew_and_english(
    browser_client: httpx.Client,
    admin: httpx.Client,
    anonymous: httpx.Client,
    clean_db: Settings,
    scoring: None,
) -> None:
    lead = _lead(admin, "יעל כהן", "0501112233")
    ts = int(time.time()) - 600
    post_text(anonymous, WA_ID, "כן, אשמח לתאם צפייה", ts, name="Yael")
    _scored(admin, lead, 25)
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    assert sign_in(browser_client, "boss@agency.co.il").status_code == 303

    hebrew = browser_client.get(f"/leads/{lead}")
    assert '<html lang="he" dir="rtl">' in hebrew.text
    assert '<dt>ציון מעורבות</dt><dd class="score">25</dd>' in hebrew.text
    assert "<h2>למה הציון הזה</h2>" in hebrew.text
    rows = _rows(hebrew, "leads score-changes")
    assert [row[:3] for row in rows] == [
        ["בקשה לסיור בנכס", "+15", "25"],
        ["תשובה להודעה", "+10", "10"],
    ]
    assert all(re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", row[3]) for row in rows)
    assert '<span dir="ltr">+15</span>' in hebrew.text  # the sign stays before the number

    token = csrf_of(browser_client.get("/account"))
    browser_client.post("/account/language", data={"language": Language.EN.value, "csrf": token})
    english = browser_client.get(f"/leads/{lead}")
    assert '<html lang="en" dir="ltr">' in english.text
    rows = _rows(english, "leads score-changes")
    assert [row[:3] for row in rows] == [
        ["Asked for a viewing", "+15", "25"],
        ["Replied", "+10", "10"],
    ]
    assert "<h2>Why this score</h2>" in english.text
    assert not HEBREW.search(english.text.split("<h2>Why this score</h2>")[1].split("</table>")[0])


def test_a_lead_without_changes_says_so(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    lead = _lead(admin, "אורית גולן", "0501112234")
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    sign_in(browser_client, "boss@agency.co.il")
    page = browser_client.get(f"/leads/{lead}")
    assert _rows(page, "leads score-changes") == [["אין שינויים עדיין"]]


def test_the_inbox_shows_each_score_and_sorts_by_it(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    for name, phone, score in (
        ("אורית גולן", "0501112234", 40),
        ("שמעון פרץ", "0501112235", 85),
        ("דנה לוי", "0501112236", 5),
    ):
        _lead(admin, name, phone, score)
    other = make_user(clean_db, "avi@agency.co.il", Role.AGENT)
    _lead(admin, "אבי מזרחי", "0501112237", 99, assigned_agent_id=other)  # not hers
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    sign_in(browser_client, "rina@agency.co.il")
    newest = browser_client.get("/")
    assert [(row[0], row[3]) for row in _rows(newest, "leads")] == [
        ("דנה לוי", "5"),
        ("שמעון פרץ", "85"),
        ("אורית גולן", "40"),
    ]
    assert "<th>ציון</th>" in newest.text and 'href="/?q=&amp;sort=score"' in newest.text
    by_score = browser_client.get("/", params={"sort": "score"})
    assert [(row[0], row[3]) for row in _rows(by_score, "leads")] == [
        ("שמעון פרץ", "85"),
        ("אורית גולן", "40"),
        ("דנה לוי", "5"),
    ]
    assert 'name="sort" value="score"' in by_score.text  # a search keeps the order
    searched = browser_client.get("/", params={"sort": "score", "q": "דנה"})
    assert [row[0] for row in _rows(searched, "leads")] == ["דנה לוי"]
