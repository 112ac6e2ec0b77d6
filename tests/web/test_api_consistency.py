"""One consistent API (issue 20): sends checked for their language and their Idempotency-Key,
times without an offset read as Israel time and every time answered with Israel's offset
(API, export, audit), histories in the order they happen, viewings in the past refused
unless recorded after the fact (API and dashboard), landlines kept with a warning."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import create_engine, text

from ovenai.engines import sync_url
from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import csrf_of, make_user, sign_in
from support.templates import seed_templates

ISRAEL = ZoneInfo("Asia/Jerusalem")
OFFSET = re.compile(r"[+-]0[23]:00$")  # Israel: +02:00 in winter, +03:00 in summer


def _lead(client: httpx.Client, phone: str, **fields: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/leads", json={"name": "נועה", "phone": phone, **fields})
    assert answer.status_code == 201, answer.text
    lead: dict[str, Any] = answer.json()
    return lead


def _tomorrow_at_ten() -> datetime:
    """Tomorrow 10:00 in Israel, without an offset."""
    return datetime.combine(datetime.now(ISRAEL).date() + timedelta(days=1), datetime.min.time())


# Sends -------------------------------------------------------------------------------------


def test_an_unsupported_language_is_refused_naming_the_supported_ones(
    admin: httpx.Client, clean_db: Settings
) -> None:
    seed_templates(clean_db)
    lead = _lead(admin, "050-222-0001")
    body = {"template": "welcome_new_lead", "params": ["נועה", "חיפה"], "language": "fr"}
    answer = admin.post(f"/api/v1/leads/{lead['id']}/messages", json=body)
    assert answer.status_code == 422
    error = answer.json()
    assert error["field"] == "language"
    assert "'fr' is not a supported language; use one of he, en" in error["message"]
    for language in ("en", "en_US", "he"):
        sent = admin.post(
            f"/api/v1/leads/{lead['id']}/messages", json={**body, "language": language}
        )
        assert sent.status_code == 202, sent.text


def test_an_idempotency_key_answers_its_first_send_and_refuses_another_body(
    admin: httpx.Client, clean_db: Settings
) -> None:
    seed_templates(clean_db)
    lead = _lead(admin, "050-222-0002")
    path = f"/api/v1/leads/{lead['id']}/messages"
    body = {"template": "welcome_new_lead", "params": ["נועה", "חיפה"]}
    key = {"Idempotency-Key": "order-17"}
    first = admin.post(path, json=body, headers=key)
    assert first.status_code == 202, first.text
    # The same request written differently (key order, spacing) is the same request.
    same = json.dumps({"params": ["נועה", "חיפה"], "template": "welcome_new_lead"}, indent=2)
    again = admin.post(
        path, content=same.encode(), headers={**key, "Content-Type": "application/json"}
    )
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    other = admin.post(path, json={**body, "params": ["נועה", "תל אביב"]}, headers=key)
    assert other.status_code == 422
    assert other.json()["error"] == "InvalidInput"
    assert other.json()["field"] == "Idempotency-Key"
    assert "different body" in other.json()["message"]
    messages = admin.get(f"/api/v1/leads/{lead['id']}/messages").json()
    assert [m["id"] for m in messages] == [first.json()["id"]]


def test_a_send_at_without_an_offset_is_israel_time(
    admin: httpx.Client, clean_db: Settings
) -> None:
    seed_templates(clean_db)
    lead = _lead(admin, "050-222-0003")
    later = _tomorrow_at_ten()
    body = {"template": "welcome_new_lead", "params": ["נועה", "חיפה"]}
    answer = admin.post(
        f"/api/v1/leads/{lead['id']}/messages", json={**body, "send_at": later.isoformat()}
    )
    assert answer.status_code == 202, answer.text
    shown = datetime.fromisoformat(answer.json()["send_at"])
    assert shown == later.replace(tzinfo=ISRAEL)
    assert shown.utcoffset() == later.replace(tzinfo=ISRAEL).utcoffset()  # Israel's offset


# Times -------------------------------------------------------------------------------------


def test_the_api_the_export_and_the_audit_write_times_with_israels_offset(
    admin: httpx.Client,
) -> None:
    lead = _lead(admin, "050-222-0004")
    assert OFFSET.search(lead["created_at"]), lead["created_at"]
    export = admin.get("/api/v1/privacy/export", params={"lead_id": lead["id"]})
    assert export.status_code == 200, export.text
    document = export.json()
    assert OFFSET.search(document["generated_at"]), document["generated_at"]
    assert OFFSET.search(document["subject"]["created_at"])
    requests = admin.get("/api/v1/privacy/requests").json()
    assert requests and all(OFFSET.search(r["requested_at"]) for r in requests)
    entries = admin.get("/api/v1/audit", params={"subject_id": lead["id"]}).json()
    assert entries and all(OFFSET.search(entry["at"]) for entry in entries)
    for entry in document["audit_entries"]:
        assert OFFSET.search(entry["at"]), entry


def test_meeting_filters_without_an_offset_are_israel_time(admin: httpx.Client) -> None:
    lead = _lead(admin, "050-222-0005")
    starts = _tomorrow_at_ten()
    made = admin.post(
        "/api/v1/meetings", json={"lead_id": lead["id"], "starts_at": starts.isoformat()}
    )
    assert made.status_code == 201, made.text
    assert datetime.fromisoformat(made.json()["starts_at"]) == starts.replace(tzinfo=ISRAEL)
    # 10:00 in Israel is 08:00 UTC: a naive bound at 09:00 is Israel's 09:00, before it.
    window = {"lead_id": lead["id"], "starts_from": (starts - timedelta(hours=1)).isoformat()}
    assert [m["id"] for m in admin.get("/api/v1/meetings", params=window).json()["items"]] == [
        made.json()["id"]
    ]
    after = {"lead_id": lead["id"], "starts_from": (starts + timedelta(minutes=1)).isoformat()}
    assert admin.get("/api/v1/meetings", params=after).json()["items"] == []


def test_a_status_history_lists_its_steps_in_the_order_they_happened(
    admin: httpx.Client, clean_db: Settings
) -> None:
    seed_templates(clean_db)
    lead = _lead(admin, "050-222-0006")
    body = {"template": "welcome_new_lead", "params": ["נועה", "חיפה"]}
    sent = admin.post(f"/api/v1/leads/{lead['id']}/messages", json=body).json()
    # Meta's status times are whole seconds; ours are not. A message read within the second
    # it was created has its read time (and sent, delivered) before its creation time.
    engine = create_engine(sync_url(clean_db.database_url))
    with engine.begin() as conn:
        created = conn.execute(
            text("SELECT created_at FROM messages WHERE id = :id"), {"id": sent["id"]}
        ).scalar_one()
        created = created if isinstance(created, datetime) else datetime.fromisoformat(created)
        second = created.replace(microsecond=0)
        if created == second:  # a creation time on the second: move it within it
            conn.execute(
                text("UPDATE messages SET created_at = :at WHERE id = :id"),
                {"at": created.replace(microsecond=500_000), "id": sent["id"]},
            )
        conn.execute(
            text(
                "UPDATE messages SET status = 'read', sent_at = :at, delivered_at = :at, "
                "read_at = :at WHERE id = :id"
            ),
            {"at": second, "id": sent["id"]},
        )
    engine.dispose()
    history = admin.get(f"/api/v1/messages/{sent['id']}").json()["status_history"]
    assert [step["status"] for step in history] == ["created", "sent", "delivered", "read"]
    assert all(OFFSET.search(step["at"]) for step in history)


# Viewings in the past ----------------------------------------------------------------------


def test_a_viewing_in_the_past_is_refused_unless_recorded_after_the_fact(
    admin: httpx.Client,
) -> None:
    lead = _lead(admin, "050-222-0007")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    body = {"lead_id": lead["id"], "starts_at": yesterday.isoformat()}
    refused = admin.post("/api/v1/meetings", json=body)
    assert refused.status_code == 422
    assert refused.json()["field"] == "starts_at"
    assert "recorded_after" in refused.json()["message"]
    recorded = admin.post("/api/v1/meetings", json={**body, "recorded_after": True})
    assert recorded.status_code == 201, recorded.text
    assert "recorded_after" not in recorded.json()
    assert datetime.fromisoformat(recorded.json()["starts_at"]) == yesterday

    upcoming = admin.post(
        "/api/v1/meetings",
        json={"lead_id": lead["id"], "starts_at": _tomorrow_at_ten().isoformat()},
    ).json()
    moved_back = admin.patch(
        f"/api/v1/meetings/{upcoming['id']}", json={"starts_at": yesterday.isoformat()}
    )
    assert moved_back.status_code == 422 and moved_back.json()["field"] == "starts_at"
    confirmed = admin.patch(f"/api/v1/meetings/{recorded.json()['id']}", json={"notes": "היה"})
    assert confirmed.status_code == 200  # a past viewing's other fields still change


def test_the_dashboard_booking_form_refuses_a_past_time_unless_ticked(
    server: Any, admin: httpx.Client, clean_db: Settings
) -> None:
    lead = _lead(admin, "050-222-0008")
    make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    with httpx.Client(base_url=server.url, headers={"Accept": "text/html"}) as browser:
        sign_in(browser, "dana@agency.co.il")
        page = browser.get("/meetings")
        assert 'name="recorded_after" value="1"' in page.text
        yesterday = (datetime.now(ISRAEL) - timedelta(days=1)).strftime("%d/%m/%Y")
        form = {"lead_id": lead["id"], "day": yesterday, "at": "10:00", "csrf": csrf_of(page)}
        refused = browser.post("/meetings", data=form)
        assert refused.status_code == 422
        assert "המועד הזה כבר עבר" in refused.text
        booked = browser.post("/meetings", data={**form, "recorded_after": "1"})
        assert booked.status_code == 303, booked.text
    assert len(admin.get("/api/v1/meetings").json()["items"]) == 1


# Landlines ---------------------------------------------------------------------------------


def test_a_landline_is_kept_with_a_warning_that_whatsapp_may_not_reach_it(
    admin: httpx.Client,
) -> None:
    landline = admin.post("/api/v1/leads", json={"name": "משרד", "phone": "02-623-4567"})
    assert landline.status_code == 201, landline.text
    assert landline.json()["phone"] == "+97226234567"
    (warning,) = landline.json()["warnings"]
    assert warning["field"] == "phone"
    assert "landline" in warning["message"] and "WhatsApp may not reach it" in warning["message"]
    voip = admin.post("/api/v1/leads", json={"name": "מרכזיה", "phone": "072-212-3456"})
    assert "VoIP" in voip.json()["warnings"][0]["message"]
    mobile = admin.post("/api/v1/leads", json={"name": "נועה", "phone": "050-222-0009"})
    assert mobile.json()["warnings"] == []
    changed = admin.patch(f"/api/v1/leads/{mobile.json()['id']}", json={"phone": "03-512-3456"})
    assert changed.status_code == 200 and changed.json()["warnings"][0]["field"] == "phone"


# The API docs -------------------------------------------------------------------------------


def test_the_api_docs_page_loads_only_what_the_app_serves(anonymous: httpx.Client) -> None:
    page = anonymous.get("/api/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN, no validator
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    urls += re.findall(r"url: '([^']+)'", page.text)  # the OpenAPI document Swagger UI reads
    assert sorted(urls) == [
        "/api/docs/assets/favicon.png",
        "/api/docs/assets/swagger-ui-bundle.js",
        "/api/docs/assets/swagger-ui.css",
        "/api/v1/openapi.json",
    ]
    for url in urls:
        assert anonymous.get(url).status_code == 200, url
    script = anonymous.get("/api/docs/assets/swagger-ui-bundle.js").text
    assert re.search(r'"5\.\d+\.\d+"', script), "Swagger UI 5 (it reads OpenAPI 3.1)"
    policy = page.headers["content-security-policy"]
    assert "http" not in policy and "script-src 'self'" in policy
