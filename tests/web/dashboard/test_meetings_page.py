"""The meetings page over real HTTP: viewings by week (Sunday to Saturday) and by day in
Israel time with dates as Israelis write them, booking one (lead, property, date and time)
with errors beside the fields, confirming and cancelling, an agent seeing only their leads'
viewings, CSRF required, and the page in English."""

from __future__ import annotations

import re

import httpx

from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import csrf_of, make_user, sign_in

HEBREW = re.compile(r"[\u0590-\u05ff]")
TUESDAY = "2049-01-12"  # in the week of Sunday 10/01/2049


def _lead(admin: httpx.Client, name: str, phone: str, **fields: object) -> str:
    answer = admin.post("/api/v1/leads", json={"name": name, "phone": phone, **fields})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _flat(admin: httpx.Client, title: str, city: str) -> str:
    answer = admin.post("/api/v1/properties", json={"title": title, "city": city, "rooms": 4})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _meeting(admin: httpx.Client, lead: str, starts_at: str, **fields: object) -> str:
    answer = admin.post(
        "/api/v1/meetings", json={"lead_id": lead, "starts_at": starts_at, **fields}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _field_error(page: httpx.Response, name: str) -> str | None:
    found = re.search(rf'<span class="field-error" id="{name}-error">([^<]*)</span>', page.text)
    return found.group(1) if found else None


def test_booking_a_viewing_shows_it_on_its_day_and_week_in_israel_time(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    lead = _lead(admin, "יעל כהן", "050-100-0001")
    flat = _flat(admin, "דירת גן ברחוב הרצל", "רמת גן")
    make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    sign_in(browser_client, "dana@agency.co.il")
    page = browser_client.get("/meetings")
    assert page.status_code == 200 and '<html lang="he" dir="rtl">' in page.text
    assert f'<option value="{lead}" dir="auto">יעל כהן</option>' in page.text
    assert f'<option value="{flat}" dir="auto">דירת גן ברחוב הרצל, רמת גן</option>' in page.text
    chosen = browser_client.get("/meetings", params={"lead": lead})
    assert f'<option value="{lead}" dir="auto" selected>' in chosen.text  # from a lead's page
    today = re.search(r'name="day" value="(\d\d/\d\d/\d{4})"', page.text)
    assert today, "the date field starts at a date written dd/mm/yyyy"
    form = {
        "lead_id": lead,
        "property_id": flat,
        "day": "12/01/2049",  # as Israelis write it
        "at": "10:30",
        "duration": "45",
        "notes": "להביא את תוכנית הדירה",
        "csrf": csrf_of(page),
    }
    booked = browser_client.post("/meetings", data=form)
    assert booked.status_code == 303
    location = booked.headers["location"]
    assert location.startswith(f"/meetings?view=day&date={TUESDAY}#meeting-")
    meeting_id = location.rsplit("#meeting-", 1)[1]
    stored = admin.get(f"/api/v1/meetings/{meeting_id}").json()
    assert stored["starts_at"] == "2049-01-12T10:30:00+02:00"  # read as Israel time
    assert (stored["property_id"], stored["duration_minutes"]) == (flat, 45)
    assert stored["notes"] == "להביא את תוכנית הדירה"

    day = browser_client.get(location.split("#", 1)[0])
    assert '<h2 class="span">יום שלישי 12/01/2049</h2>' in day.text
    item = day.text.split(f'id="meeting-{meeting_id}"', 1)[1].split("</li>", 1)[0]
    assert '<span class="when">10:30</span>' in item
    for words in ("יעל כהן", "דירת גן ברחוב הרצל", "45 דקות", "הוצע", "להביא את תוכנית הדירה"):
        assert words in item, words
    week = browser_client.get("/meetings", params={"view": "week", "date": TUESDAY})
    assert "שבוע 10/01/2049 – 16/01/2049" in week.text
    days = re.findall(r'<h3 id="day-([0-9-]+)">', week.text)
    assert days == [f"2049-01-{n}" for n in range(10, 17)]  # Sunday to Saturday
    tuesday = week.text.split('id="day-2049-01-12"', 1)[1].split("</section>", 1)[0]
    assert f'id="meeting-{meeting_id}"' in tuesday
    assert "יום שלישי 12/01/2049" in tuesday
    assert 'href="/meetings?view=week&amp;date=2049-01-17" rel="next"' in week.text


def test_a_late_evening_viewing_is_on_its_israeli_day(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    lead = _lead(admin, "יעל כהן", "050-100-0001")
    late = _meeting(admin, lead, "2049-07-13T21:30:00Z")  # 00:30 on Wednesday in Israel
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    sign_in(browser_client, "boss@agency.co.il")
    week = browser_client.get("/meetings", params={"date": "2049-07-13"})
    wednesday = week.text.split('id="day-2049-07-14"', 1)[1].split("</section>", 1)[0]
    assert f'id="meeting-{late}"' in wednesday and '<span class="when">00:30</span>' in wednesday


def test_a_refused_booking_shows_each_error_beside_its_field_and_keeps_what_was_typed(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    lead = _lead(admin, "יעל כהן", "050-100-0001")
    make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    sign_in(browser_client, "dana@agency.co.il")
    token = csrf_of(browser_client.get("/meetings"))
    empty = browser_client.post(
        "/meetings", data={"day": "", "at": "", "notes": "הערה", "csrf": token}
    )
    assert empty.status_code == 422
    assert _field_error(empty, "day") == "יש לבחור תאריך."
    assert _field_error(empty, "at") == "יש לבחור שעה."
    assert ">הערה</textarea>" in empty.text
    no_lead = browser_client.post(
        "/meetings", data={"day": TUESDAY, "at": "09:00", "duration": "2", "csrf": token}
    )
    assert no_lead.status_code == 422
    assert _field_error(no_lead, "lead") == "יש לבחור ליד מהרשימה."
    assert _field_error(no_lead, "duration") == "סיור בנכס נמשך בין 5 ל־600 דקות."
    assert 'name="at" value="09:00"' in no_lead.text
    ghost = "01930000-0000-7000-8000-000000000000"
    unknown = browser_client.post(
        "/meetings",
        data={"lead_id": lead, "property_id": ghost, "day": TUESDAY, "at": "09:00", "csrf": token},
    )
    assert unknown.status_code == 422
    assert _field_error(unknown, "property") == "יש לבחור נכס מהרשימה."
    assert f'<option value="{lead}" dir="auto" selected>' in unknown.text
    assert admin.get("/api/v1/meetings").json()["items"] == []


def test_confirm_and_cancel_and_who_sees_which_viewings(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    dana = make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    avi = make_user(clean_db, "avi@agency.co.il", Role.AGENT)
    mine = _lead(admin, "יעל כהן", "050-100-0001", assigned_agent_id=dana)
    theirs = _lead(admin, "Not hers", "050-100-0002", assigned_agent_id=avi)
    meeting = _meeting(admin, mine, f"{TUESDAY}T10:00:00+02:00")
    hidden = _meeting(admin, theirs, f"{TUESDAY}T11:00:00+02:00")
    sign_in(browser_client, "dana@agency.co.il")
    path = f"/meetings?view=day&date={TUESDAY}"
    page = browser_client.get(path)
    assert f'id="meeting-{meeting}"' in page.text
    assert f'id="meeting-{hidden}"' not in page.text and "Not hers" not in page.text
    token = csrf_of(page)
    back = {"back": path, "csrf": token}
    confirmed = browser_client.post(f"/meetings/{meeting}/confirm", data=back)
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == f"{path}#meeting-{meeting}"
    assert admin.get(f"/api/v1/meetings/{meeting}").json()["status"] == "confirmed"
    item = browser_client.get(path).text.split(f'id="meeting-{meeting}"', 1)[1]
    item = item.split("</li>", 1)[0]
    assert "אושר" in item and "/confirm" not in item and "/cancel" in item
    assert browser_client.post(f"/meetings/{meeting}/cancel", data=back).status_code == 303
    assert admin.get(f"/api/v1/meetings/{meeting}").json()["status"] == "cancelled"
    item = browser_client.get(path).text.split(f'id="meeting-{meeting}"', 1)[1]
    assert "בוטל" in item.split("</li>", 1)[0] and "/cancel" not in item.split("</li>", 1)[0]

    assert browser_client.post(f"/meetings/{hidden}/cancel", data=back).status_code == 404
    assert admin.get(f"/api/v1/meetings/{hidden}").json()["status"] == "proposed"
    assert browser_client.post(f"/meetings/{hidden}/cancel", data={}).status_code == 403
    away = browser_client.post(
        f"/meetings/{meeting}/confirm", data={"back": "https://evil.example", "csrf": token}
    )
    assert away.headers["location"].startswith("/meetings#")  # never elsewhere


def test_the_meetings_page_in_english(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    lead = _lead(admin, "Orit Golan", "050-100-0001")
    _meeting(admin, lead, f"{TUESDAY}T10:00:00+02:00")
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    sign_in(browser_client, "boss@agency.co.il")
    token = csrf_of(browser_client.get("/account"))
    browser_client.post("/account/language", data={"language": "en", "csrf": token})
    page = browser_client.get("/meetings", params={"view": "day", "date": TUESDAY})
    assert '<html lang="en" dir="ltr">' in page.text
    for words in ("Tuesday 12/01/2049", "Proposed", "Confirm", "Book a viewing", "30 minutes"):
        assert words in page.text, words
    assert not HEBREW.search(page.text.split("<main>", 1)[1])
