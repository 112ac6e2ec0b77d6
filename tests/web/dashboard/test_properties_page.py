"""The listings pages over real HTTP: the list with its filters, a new listing and the edit
form (admins) with errors beside the fields, a listing's page with the leads it suits and
why (and how many others are left out, by criterion), agents reading but not editing, CSRF
required, and the pages in English."""

from __future__ import annotations

import re

import httpx

from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import csrf_of, make_user, sign_in

HEBREW = re.compile(r"[\u0590-\u05ff]")


def _lead(admin: httpx.Client, name: str, phone: str, **fields: object) -> str:
    answer = admin.post("/api/v1/leads", json={"name": name, "phone": phone, **fields})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _flat(admin: httpx.Client, **fields: object) -> str:
    body = {"title": "דירת 4 חדרים", "city": "תל אביב", "rooms": 4, "price": 2_150_000, **fields}
    answer = admin.post("/api/v1/properties", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _field_error(page: httpx.Response, name: str) -> str | None:
    found = re.search(rf'<span class="field-error" id="{name}-error">([^<]*)</span>', page.text)
    return found.group(1) if found else None


def _rows(page: httpx.Response, table: str) -> list[list[str]]:
    body = page.text.split(f'<table class="leads {table}">', 1)[1].split("</table>", 1)[0]
    body = body.split("<tbody>", 1)[1]
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


FORM = {
    "title": "פנטהאוז מול הים",
    "city": "חיפה",
    "area": "כרמל",
    "address": "שדרות הנשיא 10",
    "rooms": "5.5",
    "size_m2": "140",
    "price": "3,200,000",
    "status": "available",
    "description": "נוף לים",
}


def test_an_admin_adds_and_edits_a_listing_with_errors_beside_the_fields(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    sign_in(browser_client, "boss@agency.co.il")
    listing = browser_client.get("/properties")
    assert '<a href="/properties/new">נכס חדש</a>' in listing.text
    token = csrf_of(browser_client.get("/properties/new"))
    bad = {**FORM, "city": " ", "rooms": "many", "price": "lots", "csrf": token}
    refused = browser_client.post("/properties", data=bad)
    assert refused.status_code == 422
    assert _field_error(refused, "city") == "יש לכתוב את העיר (עד 100 תווים)."
    assert _field_error(refused, "rooms") == "חדרים: מספר מ־0 עד 50, בחצאים (3.5)."
    assert _field_error(refused, "price") == "מחיר: שקלים שלמים, בלי פסיקים."
    assert _field_error(refused, "size_m2") is None
    assert 'name="title" value="פנטהאוז מול הים"' in refused.text  # kept
    assert admin.get("/api/v1/properties").json()["items"] == []

    created = browser_client.post("/properties", data={**FORM, "csrf": token})
    assert created.status_code == 303
    prop_id = created.headers["location"].rsplit("/", 1)[1]
    stored = admin.get(f"/api/v1/properties/{prop_id}").json()
    assert (stored["city"], stored["rooms"], stored["price"]) == ("חיפה", 5.5, 3_200_000)
    assert (stored["size_m2"], stored["area"]) == (140, "כרמל")
    page = browser_client.get(f"/properties/{prop_id}")
    assert '<h1 dir="auto">פנטהאוז מול הים</h1>' in page.text
    assert "₪3,200,000" in page.text and "140 מ״ר" in page.text

    edit = {**FORM, "price": "2990000", "area": "", "status": "reserved", "csrf": token}
    assert browser_client.post(f"/properties/{prop_id}", data=edit).status_code == 303
    stored = admin.get(f"/api/v1/properties/{prop_id}").json()
    assert (stored["price"], stored["area"], stored["status"]) == (2_990_000, None, "reserved")
    rows = _rows(browser_client.get("/properties", params={"status": "reserved"}), "properties")
    assert rows == [["פנטהאוז מול הים", "חיפה", "5.5", "140 מ״ר", "₪2,990,000", "שמור"]]
    assert "אין נכסים להצגה" in browser_client.get("/properties", params={"city": "אילת"}).text
    bad_edit = browser_client.post(f"/properties/{prop_id}", data={**edit, "status": "gone"})
    assert bad_edit.status_code == 422
    assert _field_error(bad_edit, "status") == "יש לבחור מצב מהרשימה."
    assert browser_client.post("/properties", data=FORM).status_code == 403  # no token


def test_a_listing_shows_the_leads_it_suits_and_why_and_how_many_are_left_out(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    flat = _flat(admin)
    _lead(admin, "יעל כהן", "050-100-0001", want_city="תל-אביב", want_rooms_min=3)
    _lead(admin, "אבי לוי", "050-100-0002", want_budget_max=2_000_000, engagement_score=40)
    _lead(admin, "רון חיפאי", "050-100-0003", want_city="חיפה")
    _lead(admin, "בלי דרישות", "050-100-0004")
    make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    sign_in(browser_client, "dana@agency.co.il")
    page = browser_client.get(f"/properties/{flat}")
    assert page.status_code == 200
    rows = _rows(page, "matches")
    assert [row[0] for row in rows] == ["יעל כהן", "אבי לוי"]
    assert rows[0][3] == "עיר: מחפש תל-אביב, כאן תל אביב חדרים: מחפש ≥ 3, כאן 4"
    assert rows[1][3] == ("תקציב: ≤ 2,000,000, מחיר 2,150,000 (מעל התקציב, בטווח של 10%)")
    assert "2 לידים אחרים לא נכללו" in page.text
    assert "עיר אחרת: 1" in page.text and "ללא דרישות: 1" in page.text
    assert 'name="price"' not in page.text  # agents read listings, admins edit them
    assert browser_client.get("/properties/new").status_code == 404
    token = csrf_of(page)
    edit = {"city": "חיפה", "csrf": token}
    assert browser_client.post(f"/properties/{flat}", data=edit).status_code == 404
    assert admin.get(f"/api/v1/properties/{flat}").json()["city"] == "תל אביב"
    missing = browser_client.get("/properties/01930000-0000-7000-8000-000000000000")
    assert missing.status_code == 404


def test_the_listings_pages_in_english(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    flat = _flat(admin, title="Sea view flat", city="Tel Aviv", size_m2=100)
    _lead(admin, "Orit Golan", "050-100-0001", want_city="Tel Aviv", want_size_min=200)
    _lead(admin, "Dan Levi", "050-100-0002", want_city="Tel Aviv")
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    sign_in(browser_client, "boss@agency.co.il")
    token = csrf_of(browser_client.get("/account"))
    browser_client.post("/account/language", data={"language": "en", "csrf": token})
    listing = browser_client.get("/properties")
    assert '<html lang="en" dir="ltr">' in listing.text
    assert _rows(listing, "properties") == [
        ["Sea view flat", "Tel Aviv", "4", "100 sq m", "₪2,150,000", "Available"]
    ]
    page = browser_client.get(f"/properties/{flat}")
    rows = _rows(page, "matches")
    assert rows == [["Dan Levi", "New", "0", "City: wants Tel Aviv, here Tel Aviv"]]
    assert "1 other lead is left out" in page.text
    for words in ("Leads this property suits", "Edit the property", "Price in shekels"):
        assert words in page.text, words
    assert not HEBREW.search(page.text) and not HEBREW.search(listing.text)
