"""The lead page's conversation and in-place edits over real HTTP: bubbles on either side
with WhatsApp's ticks by status (statuses posted as Meta posts them), a failure's reason and
next step in Hebrew and English, a reply with the message it answers, the fragment the page
polls (204 while nothing moved), the lead's viewings, and edits of the details and criteria
that persist (sealed, audited) or show their error beside the field; and in chromium, a
template sent from the page going clock → ✓ → ✓✓ → blue as the simulator's statuses arrive,
then the lead's reply appearing with its quote, without a reload."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ovenai.columns import new_id, utcnow
from ovenai.db import open_database
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign
from ovenai.models import Language, Lead, Message, Role
from ovenai.sealing import MESSAGES
from ovenai.settings import Settings
from ovenai.simulator import SimulatorConfig, SimulatorThread
from support.aio import run_async
from support.dashboard import csrf_of, make_user, sign_in, sign_in_page
from support.dispatch import dispatch_queued
from support.simulator import fresh_simulator, sim_config, simulator  # noqa: F401  (fixtures)
from support.simulator_http import post_control
from support.templates import seed_templates

APP_SECRET = "test-app-secret"  # tests/conftest.py TEST_APP_SECRET
AGENT = "dana.agent@agency.co.il"
WA_ID = "972501112233"
PHONE_ID = "420000000000002"


def _lead(admin: httpx.Client, agent_id: str, **fields: object) -> str:
    body = {"name": "נועה כהן", "phone": "0501112233", "assigned_agent_id": agent_id, **fields}
    answer = admin.post("/api/v1/leads", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _store_outbound(settings: Settings, lead_id: str, texts: list[str]) -> list[str]:
    """Outbound text messages as the outbox stores them once Meta accepted them (status
    sent, each with its wamid), a minute apart; their wamids."""

    async def store() -> list[str]:
        db = open_database(settings)
        try:
            await db.start()
            key = await db.vault.key("lead", lead_id)
            start = utcnow() - timedelta(minutes=len(texts) + 5)
            wamids = []
            async with db.session() as session:
                for number, text in enumerate(texts):
                    at = start + timedelta(minutes=number)
                    wamid = f"wamid.out.{new_id()}"
                    message = Message(
                        id=new_id(),
                        lead_id=lead_id,
                        direction="outbound",
                        type="text",
                        status="sent",
                        status_at=at,
                        sent_at=at,
                        wa_message_id=wamid,
                        created_at=at,
                        updated_at=at,
                    )
                    MESSAGES.seal_into(message, key, {"text": text})
                    session.add(message)
                    wamids.append(wamid)
                await session.commit()
            return wamids
        finally:
            await db.dispose()

    return run_async(store)


def _notes_sealed(settings: Settings, lead_id: str, plain: str) -> bool:
    """Whether the lead's stored notes are ciphertext (the plain words nowhere in them)."""

    async def check() -> bool:
        db = open_database(settings)
        try:
            await db.start()
            async with db.session() as session:
                stored = await session.scalar(select(Lead.notes_enc).where(Lead.id == lead_id))
            return stored is not None and plain.encode() not in stored
        finally:
            await db.dispose()

    return run_async(check)


def _post(client: httpx.Client, value: dict[str, object]) -> None:
    """One webhook body as Meta posts it (signed)."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "97233760000", "phone_number_id": PHONE_ID},
        **value,
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "310000000000001", "changes": [{"value": value, "field": "messages"}]}],
    }
    raw = json.dumps(body).encode()
    headers = {SIGNATURE_HEADER: sign(raw, APP_SECRET), "Content-Type": "application/json"}
    assert client.post(WEBHOOK_PATH, content=raw, headers=headers).status_code == 200


def _status(wamid: str, status: str, code: int | None = None, title: str = "") -> dict[str, object]:
    item: dict[str, object] = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": WA_ID,
    }
    if code is not None:
        item["errors"] = [{"code": code, "title": title, "message": title}]
    return item


def _reply(text: str, to_wamid: str) -> dict[str, object]:
    message = {
        "from": WA_ID,
        "id": f"wamid.in.{new_id()}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
        "context": {"from": "97233760000", "id": to_wamid},
    }
    return {"contacts": [{"profile": {"name": "Noa"}, "wa_id": WA_ID}], "messages": [message]}


def _messages(admin: httpx.Client, lead_id: str) -> list[dict[str, Any]]:
    answer = admin.get(f"/api/v1/leads/{lead_id}/messages")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


def _until(
    client: httpx.Client, path: str, check: Callable[[httpx.Response], bool]
) -> httpx.Response:
    """The page once ``check(page)`` holds (webhooks are applied in the background)."""
    deadline = time.monotonic() + 15
    while not check(page := client.get(path)):
        assert time.monotonic() < deadline, f"{path} never showed what was expected"
        time.sleep(0.05)
    return page


def _bubbles(page: httpx.Response) -> list[str]:
    return re.findall(r'<li class="bubble .*?</li>', page.text, re.S)


def _bubble(page: httpx.Response, text: str) -> str:
    (found,) = [b for b in _bubbles(page) if f">{text}</p>" in b]
    return found


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def _error(page: httpx.Response, of: str) -> str:
    match = re.search(rf'<p class="error" id="{of}-error" role="alert">(.*?)</p>', page.text)
    assert match, f"no error beside {of}"
    return html.unescape(match.group(1))


@pytest.fixture
def agent_id(clean_db: Settings) -> str:
    return make_user(clean_db, AGENT, Role.AGENT)


@pytest.fixture
def dana(browser_client: httpx.Client, agent_id: str) -> httpx.Client:
    """The agent, signed in."""
    assert sign_in(browser_client, AGENT).status_code == 303
    return browser_client


def _english(client: httpx.Client) -> None:
    token = csrf_of(client.get("/account"))
    client.post("/account/language", data={"language": Language.EN.value, "csrf": token})


def test_bubbles_carry_ticks_by_status_failures_with_advice_and_replies_with_quotes(
    dana: httpx.Client,
    admin: httpx.Client,
    anonymous: httpx.Client,
    agent_id: str,
    clean_db: Settings,
) -> None:
    lead = _lead(admin, agent_id)
    texts = [
        "ההצעה הראשונה",
        "פרטי הנכס",
        "שאלה על מועד",
        "הודעה שלא נמסרה",
        "שגיאה אחרת",
        "תבנית שבורה",
    ]
    sent, delivered, read, failed, odd, broken = _store_outbound(clean_db, lead, texts)
    _post(
        anonymous,
        {
            "statuses": [
                _status(delivered, "delivered"),
                _status(read, "read"),
                _status(failed, "failed", 131026, "Message undeliverable"),
                _status(odd, "failed", 131000, "Something went wrong"),
                _status(broken, "failed", 132001, "Template name does not exist"),
            ]
        },
    )
    _post(anonymous, _reply("כן, מתי אפשר לראות?", read))
    _post(anonymous, _reply("ומה עם החניה?", "wamid.never.seen"))
    path = f"/leads/{lead}"
    page = _until(dana, path, lambda p: "ומה עם החניה?" in p.text and "tick-read" in p.text)

    ticks = {text: re.search(r"tick tick-(\w+)", _bubble(page, text)) for text in texts}
    assert {text: m.group(1) if m else None for text, m in ticks.items()} == {
        "ההצעה הראשונה": "sent",
        "פרטי הנכס": "delivered",
        "שאלה על מועד": "read",
        "הודעה שלא נמסרה": "failed",
        "שגיאה אחרת": "failed",
        "תבנית שבורה": "failed",
    }
    assert 'aria-label="נקראה"' in _bubble(page, "שאלה על מועד")
    assert 'aria-label="נמסרה"' in _bubble(page, "פרטי הנכס")
    assert _bubble(page, "ההצעה הראשונה").startswith('<li class="bubble outbound"')
    reply = _bubble(page, "כן, מתי אפשר לראות?")
    assert reply.startswith('<li class="bubble inbound"') and "tick" not in reply
    assert 'class="body" dir="auto"' in reply
    assert '<blockquote class="quote outbound">' in reply
    assert "שאלה על מועד" in _text(reply.split("</blockquote>")[0])  # the message it answers
    stray = _bubble(page, "ומה עם החניה?")
    assert "תגובה להודעה שאינה בשיחה הזו" in _text(stray)

    undelivered = _text(_bubble(page, "הודעה שלא נמסרה"))
    assert "וואטסאפ לא הצליח למסור את ההודעה למספר הזה." in undelivered
    assert "כדאי לבדוק את מספר הטלפון" in undelivered
    assert "131026 Message undeliverable" in undelivered  # Meta's words, marked ltr
    assert "כדאי לבדוק את התבנית" in _text(_bubble(page, "תבנית שבורה"))
    unknown = _text(_bubble(page, "שגיאה אחרת"))
    assert "וואטסאפ לא מסר את ההודעה (שגיאה 131000)." in unknown
    assert "131000 Something went wrong" in unknown

    _english(dana)
    english = dana.get(path)
    advice = _text(_bubble(english, "הודעה שלא נמסרה"))
    assert "WhatsApp could not deliver the message to this number." in advice
    assert "Check the phone number; the lead may not have WhatsApp" in advice
    assert "From the agency" in _text(_bubble(english, "כן, מתי אפשר לראות?"))
    assert re.search(r'aria-label="Read"', _bubble(english, "שאלה על מועד"))
    assert re.search(r'aria-label="Delivered"', _bubble(english, "פרטי הנכס"))
    assert re.search(r'aria-label="Sent"', _bubble(english, "ההצעה הראשונה"))


def test_the_fragment_answers_204_until_a_status_moves_then_the_new_bubbles(
    dana: httpx.Client,
    admin: httpx.Client,
    anonymous: httpx.Client,
    agent_id: str,
    clean_db: Settings,
) -> None:
    lead = _lead(admin, agent_id)
    (wamid,) = _store_outbound(clean_db, lead, ["היי נועה"])
    page = dana.get(f"/leads/{lead}")
    version = re.search(r'data-version="([^"]+)"', page.text)
    assert version and 'src="/static/lead.js"' in page.text
    assert f'data-refresh="/leads/{lead}/conversation"' in page.text
    path = f"/leads/{lead}/conversation"
    same = dana.get(path, params={"version": version.group(1)})
    assert same.status_code == 204 and same.text == ""

    _post(anonymous, {"statuses": [_status(wamid, "delivered")]})
    moved = _until(
        dana, f"{path}?version={version.group(1)}", lambda answer: answer.status_code == 200
    )
    assert "<html" not in moved.text and "tick-delivered" in moved.text
    assert moved.headers["X-Conversation-Version"] != version.group(1)
    again = dana.get(path, params={"version": moved.headers["X-Conversation-Version"]})
    assert again.status_code == 204
    script = dana.get("/static/lead.js")
    assert script.status_code == 200 and "X-Conversation-Version" in script.text

    other = make_user(clean_db, "avi.agent@agency.co.il", Role.AGENT)
    theirs = admin.post(
        "/api/v1/leads",
        json={"name": "שמעון", "phone": "0501112299", "assigned_agent_id": other},
    ).json()["id"]
    assert dana.get(f"/leads/{theirs}/conversation").status_code == 404


def test_a_waiting_question_is_answered_when_a_reply_is_applied_not_at_its_end(
    dana: httpx.Client,
    admin: httpx.Client,
    anonymous: httpx.Client,
    agent_id: str,
    clean_db: Settings,
) -> None:
    """The page asks with ``wait``: the server holds the question while nothing moves and
    answers it once the writer announced the lead (ovenai.live), long before the wait ends."""
    lead = _lead(admin, agent_id)
    (wamid,) = _store_outbound(clean_db, lead, ["היי נועה"])
    path = f"/leads/{lead}/conversation"
    version = dana.get(path).headers["X-Conversation-Version"]

    started = time.monotonic()
    held = dana.get(path, params={"version": version, "wait": 1})
    assert held.status_code == 204 and time.monotonic() - started >= 1  # held, then "same"

    with ThreadPoolExecutor(1) as pool:
        asking = pool.submit(
            lambda: (dana.get(path, params={"version": version, "wait": 30}), time.monotonic())
        )
        time.sleep(0.5)  # the question is waiting
        assert not asking.done()
        posted = time.monotonic()
        _post(anonymous, _reply("מתי אפשר לראות?", wamid))
        answer, answered = asking.result(timeout=40)
    assert answer.status_code == 200 and "מתי אפשר לראות?" in answer.text
    assert answered - posted < 20  # woken by the change, not by the end of its 30 s
    assert dana.get(path, params={"version": version, "wait": 31}).status_code == 422


def test_details_and_criteria_are_edited_in_place_sealed_and_audited(
    dana: httpx.Client, admin: httpx.Client, agent_id: str, clean_db: Settings
) -> None:
    lead = _lead(admin, agent_id)
    listing = admin.post(
        "/api/v1/properties", json={"city": "חיפה", "title": "דירת גן ברחוב הנביאים"}
    )
    assert listing.status_code == 201, listing.text
    page = dana.get(f"/leads/{lead}")
    token = csrf_of(page)
    assert '<input id="lead-name" name="name" value="נועה כהן"' in page.text

    details = {"name": "נועה לוי", "language": "en", "notes": "מחפשת קרוב לים", "csrf": token}
    saved = dana.post(f"/leads/{lead}/details", data=details)
    assert saved.status_code == 303
    criteria = {
        "want_city": "חיפה",
        "want_area": "הדר",
        "want_rooms_min": "3",
        "want_rooms_max": "4,5",
        "want_size_min": "90",
        "want_budget_min": "1,800,000",
        "want_budget_max": "₪2,400,000",
        "property_id": listing.json()["id"],
        "csrf": token,
    }
    assert dana.post(f"/leads/{lead}/criteria", data=criteria).status_code == 303
    stored = admin.get(f"/api/v1/leads/{lead}").json()
    assert (stored["name"], stored["language"], stored["notes"]) == (
        "נועה לוי",
        "en",
        "מחפשת קרוב לים",
    )
    assert (stored["want_city"], stored["want_area"]) == ("חיפה", "הדר")
    assert float(stored["want_rooms_min"]) == 3 and float(stored["want_rooms_max"]) == 4.5
    assert (stored["want_size_min"], stored["want_budget_min"], stored["want_budget_max"]) == (
        90,
        1_800_000,
        2_400_000,
    )
    assert stored["property_id"] == listing.json()["id"]
    assert _notes_sealed(clean_db, lead, "מחפשת קרוב לים")
    shown = dana.get(f"/leads/{lead}")
    assert '<textarea id="lead-notes" name="notes" rows="3" dir="auto"' in shown.text
    assert ">מחפשת קרוב לים</textarea>" in shown.text
    assert "דירת גן ברחוב הנביאים · חיפה</option>" in shown.text
    audit = admin.get("/api/v1/audit", params={"subject_id": lead}).json()
    updates = [entry["details"]["fields"] for entry in audit if entry["action"] == "update"]
    assert ["language", "name", "notes"] in updates
    assert [
        "property_id",
        "want_area",
        "want_budget_max",
        "want_budget_min",
        "want_city",
        "want_rooms_max",
        "want_rooms_min",
        "want_size_min",
    ] in updates

    # Saving the same values again changes nothing, and audits no update.
    assert dana.post(f"/leads/{lead}/criteria", data=criteria).status_code == 303
    again = admin.get("/api/v1/audit", params={"subject_id": lead}).json()
    assert len([e for e in again if e["action"] == "update"]) == len(updates)

    # Clearing a field stores none.
    cleared = {**criteria, "want_area": "", "want_size_min": ""}
    assert dana.post(f"/leads/{lead}/criteria", data=cleared).status_code == 303
    stored = admin.get(f"/api/v1/leads/{lead}").json()
    assert (stored["want_area"], stored["want_size_min"]) == (None, None)


def test_a_wrong_value_shows_its_error_beside_the_field_and_keeps_what_was_typed(
    dana: httpx.Client, admin: httpx.Client, agent_id: str
) -> None:
    lead = _lead(admin, agent_id, want_city="חיפה")
    token = csrf_of(dana.get(f"/leads/{lead}"))
    criteria = {
        "want_city": "תל אביב",
        "want_rooms_min": "שלושה",
        "want_budget_min": "2000000",
        "want_budget_max": "1000000",
        "csrf": token,
    }
    refused = dana.post(f"/leads/{lead}/criteria", data=criteria)
    assert refused.status_code == 422
    assert _error(refused, "want_rooms_min") == "יש להזין מספר חדרים בין 0 ל־50, למשל 3.5."
    assert 'id="lead-want_rooms_min" name="want_rooms_min" value="שלושה"' in refused.text
    assert 'id="lead-want_city" name="want_city" value="תל אביב"' in refused.text
    assert 'aria-describedby="want_rooms_min-error"' in refused.text
    assert admin.get(f"/api/v1/leads/{lead}").json()["want_city"] == "חיפה"  # nothing saved

    order = dana.post(f"/leads/{lead}/criteria", data={**criteria, "want_rooms_min": "3"})
    assert order.status_code == 422
    assert _error(order, "want_budget_max") == "התקציב העליון לא יכול להיות נמוך מהתחתון."

    nameless = dana.post(
        f"/leads/{lead}/details", data={"name": "  ", "language": "he", "csrf": token}
    )
    assert nameless.status_code == 422
    assert _error(nameless, "name") == "יש להזין שם של עד 200 תווים."
    hidden = dana.post(
        f"/leads/{lead}/details",
        data={"name": "נועה", "language": "he", "notes": "שלום\u202eעולם", "csrf": token},
    )
    assert _error(hidden, "notes") == "יש להסיר מהטקסט את תווי הכיוון הבלתי נראים."
    _english(dana)
    english = dana.post(f"/leads/{lead}/criteria", data=criteria)
    assert _error(english, "want_rooms_min") == (
        "Enter a number of rooms between 0 and 50, such as 3.5."
    )
    for path in ("details", "criteria"):
        assert dana.post(f"/leads/{lead}/{path}", data={"name": "x"}).status_code == 403


def test_the_leads_viewings_are_listed_with_their_state(
    dana: httpx.Client, admin: httpx.Client, agent_id: str
) -> None:
    lead = _lead(admin, agent_id)
    assert "עדיין אין צפיות" in dana.get(f"/leads/{lead}").text
    starts = datetime(2049, 12, 20, 15, 30, tzinfo=UTC)  # 17:30 in Jerusalem, and ahead
    made = admin.post("/api/v1/meetings", json={"lead_id": lead, "starts_at": starts.isoformat()})
    assert made.status_code == 201, made.text
    later = admin.post(
        "/api/v1/meetings",
        json={"lead_id": lead, "starts_at": (starts + timedelta(days=1)).isoformat()},
    ).json()
    cancel = admin.patch(f"/api/v1/meetings/{later['id']}", json={"status": "cancelled"})
    assert cancel.status_code == 200, cancel.text
    page = dana.get(f"/leads/{lead}")
    rows = re.findall(r'<tr class="meeting (\w+)">(.*?)</tr>', page.text, re.S)
    assert [(state, _text(cells)) for state, cells in rows] == [
        ("proposed", "20/12/2049 17:30 — ממתין לאישור"),
        ("cancelled", "21/12/2049 17:30 — הצפייה בוטלה"),
    ]


# A real browser: a template sent from the lead page, its ticks moving as the simulator's
# statuses arrive, then the lead's reply.


def test_a_template_sent_from_the_lead_page_goes_clock_tick_double_tick_blue(
    browser: Any,
    server: Any,
    admin: httpx.Client,
    anonymous: httpx.Client,
    agent_id: str,
    clean_db: Settings,
    fresh_simulator: SimulatorThread,  # noqa: F811
    sim_config: SimulatorConfig,  # noqa: F811
) -> None:
    seed_templates(clean_db)
    lead = _lead(admin, agent_id, want_city="חיפה")
    # Meta's statuses arrive at the product's webhook: delivered after 6 s, read after 12 s,
    # each long enough for the page's poll (every few seconds) to show it.
    post_control(
        fresh_simulator.base_url,
        "config",
        {"webhook_url": f"{server.url}{WEBHOOK_PATH}", "status_delays": [0.5, 6.0, 12.0]},
    )
    page = browser.new_page()
    try:
        sign_in_page(page, server.url, AGENT)
        page.goto(f"{server.url}/leads/{lead}?family=welcome_new_lead")
        page.click("form.compose-template button[value=send]")
        page.wait_for_url(f"{server.url}/leads/{lead}")
        bubble = page.locator("li.bubble.outbound").last
        assert "שלום נועה" in bubble.inner_text()
        tick = bubble.locator(".tick")
        assert tick.get_attribute("class") == "tick tick-clock"  # queued: no worker yet
        assert tick.get_attribute("aria-label") == "ממתינה לשליחה"

        dispatch_queued(clean_db, fresh_simulator, sim_config)  # accepted by "Meta": sent
        seen = []
        for state, words in (
            ("sent", "נשלחה"),
            ("delivered", "נמסרה"),
            ("read", "נקראה"),
        ):
            selector = f"li.bubble.outbound .tick-{state}"
            page.wait_for_selector(selector, timeout=30_000)  # no reload: the page polls
            shown = page.locator(selector).last
            assert shown.get_attribute("aria-label") == words
            seen.append(state)
        assert seen == ["sent", "delivered", "read"]
        blue = page.locator("li.bubble.outbound .tick-read").evaluate(
            "element => getComputedStyle(element).color"
        )
        assert blue == "rgb(83, 189, 235)"  # WhatsApp's blue

        # The lead answers the template: the reply appears, quoting it, still without a reload.
        (sent,) = [m for m in _messages(admin, lead) if m["direction"] == "outbound"]
        _post(anonymous, _reply("תודה! מתי אפשר לבוא?", sent["wa_message_id"]))
        page.wait_for_selector("li.bubble.inbound blockquote.quote.outbound", timeout=30_000)
        reply = page.locator("li.bubble.inbound").last
        assert "תודה! מתי אפשר לבוא?" in reply.locator("p.body").inner_text()
        assert "שלום נועה" in reply.locator("blockquote").inner_text()
        assert page.locator("li.bubble.outbound .tick-read").count() == 1  # left in place
    finally:
        page.close()
        post_control(fresh_simulator.base_url, "reset")
