"""The pipeline board over real HTTP: a column per stage with the leads the user may see,
moves by the card's form (previous/next buttons and the stage list, without JavaScript) and
as the board's script posts them (JSON), through the same stage change as the lead page (the
contract stage's automation rule fires, the change is audited), CSRF required, another
agent's lead hidden, and the board in Hebrew right to left and in English."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from ovenai.models import Role, Stage
from ovenai.settings import Settings
from support.automation import seed_default_rules
from support.dashboard import csrf_of, make_user, sign_in, sign_in_page

HEBREW = re.compile(r"[\u0590-\u05ff]")


def _lead(admin: httpx.Client, name: str, phone: str, **fields: object) -> str:
    answer = admin.post("/api/v1/leads", json={"name": name, "phone": phone, **fields})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _columns(page: httpx.Response) -> dict[str, list[str]]:
    """Each column's stage → the names on its cards, top first."""
    found: dict[str, list[str]] = {}
    for stage, body in re.findall(
        r'<section class="column" data-stage="([a-z_]+)".*?>(.*?)</section>', page.text, re.S
    ):
        found[stage] = re.findall(r'<a href="/leads/[^"]+" dir="auto">([^<]*)</a>', body)
    return found


def _stage(admin: httpx.Client, lead_id: str) -> str:
    return str(admin.get(f"/api/v1/leads/{lead_id}").json()["stage"])


def test_the_board_shows_a_column_per_stage_with_the_leads_the_user_may_see(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    dana = make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    avi = make_user(clean_db, "avi@agency.co.il", Role.AGENT)
    _lead(admin, "יעל כהן", "050-100-0001", assigned_agent_id=dana)
    _lead(admin, "אבי לוי", "050-100-0002", stage="negotiation")
    _lead(admin, "Not hers", "050-100-0003", stage="negotiation", assigned_agent_id=avi)
    sign_in(browser_client, "dana@agency.co.il")
    page = browser_client.get("/pipeline")
    assert page.status_code == 200
    columns = _columns(page)
    assert list(columns) == [stage.value for stage in Stage]  # the pipeline's order
    assert columns["new"] == ["יעל כהן"]
    assert columns["negotiation"] == ["אבי לוי"]
    assert "Not hers" not in page.text
    assert '<html lang="he" dir="rtl">' in page.text
    assert '<h2 id="column-negotiation">משא ומתן' in page.text
    assert 'src="/static/pipeline.js"' in page.text and 'draggable="true"' in page.text
    script = browser_client.get("/static/pipeline.js")
    assert script.status_code == 200 and "dragstart" in script.text and "ArrowLeft" in script.text
    assert '<a href="/pipeline">צנרת מכירות</a>' in page.text  # in the layout's bar


def test_a_card_moves_by_its_buttons_and_by_its_list_without_javascript(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    lead = _lead(admin, "יעל כהן", "050-100-0001")
    make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    sign_in(browser_client, "dana@agency.co.il")
    page = browser_client.get("/pipeline")
    token = csrf_of(page)
    card = page.text.split(f'id="lead-{lead}"', 1)[1].split("</li>", 1)[0]
    assert 'name="to" class="step forth" value="contacted"' in card  # the next stage
    moved = browser_client.post(
        "/pipeline/move", data={"lead_id": lead, "to": "contacted", "csrf": token}
    )
    assert moved.status_code == 303 and moved.headers["location"] == f"/pipeline#lead-{lead}"
    assert _stage(admin, lead) == "contacted"
    assert _columns(browser_client.get("/pipeline"))["contacted"] == ["יעל כהן"]
    chosen = browser_client.post(
        "/pipeline/move", data={"lead_id": lead, "stage": "viewing_done", "csrf": token}
    )
    assert chosen.status_code == 303 and _stage(admin, lead) == "viewing_done"
    bad = browser_client.post(
        "/pipeline/move", data={"lead_id": lead, "stage": "sold_twice", "csrf": token}
    )
    assert bad.status_code == 422
    error = re.search(rf'<p class="error" id="error-{lead}" role="alert">([^<]*)</p>', bad.text)
    assert error and error.group(1) == "יש לבחור שלב מהרשימה."  # beside the card
    assert _stage(admin, lead) == "viewing_done"


def test_the_script_moves_as_json_through_the_same_stage_change_with_its_hooks(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    seed_default_rules(clean_db)
    lead = _lead(admin, "יעל כהן", "050-100-0001", stage="negotiation")
    make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    sign_in(browser_client, "dana@agency.co.il")
    token = csrf_of(browser_client.get("/pipeline"))
    moved = browser_client.post(
        "/pipeline/move",
        data={"lead_id": lead, "stage": "contract", "csrf": token},
        headers={"Accept": "application/json"},
    )
    assert moved.status_code == 200
    assert moved.json() == {"lead_id": lead, "stage": "contract", "label": "חתימת חוזה"}
    firings = admin.get("/api/v1/automation/firings", params={"lead_id": lead}).json()["items"]
    assert "request_documents_on_contract" in [f["rule_key"] for f in firings]
    audit = admin.get("/api/v1/audit", params={"subject_id": lead}).json()
    assert [e["details"] for e in audit if e["action"] == "update"] == [{"fields": ["stage"]}]
    bad = browser_client.post(
        "/pipeline/move",
        data={"lead_id": lead, "stage": "nowhere", "csrf": token},
        headers={"Accept": "application/json"},
    )
    assert bad.status_code == 422
    assert bad.json() == {  # the API's one error shape, in the page's language
        "error": "InvalidInput",
        "message": "יש לבחור שלב מהרשימה.",
        "field": "stage",
    }
    gone = browser_client.post(
        "/pipeline/move",
        data={"lead_id": "no-such-lead", "stage": "contract", "csrf": token},
        headers={"Accept": "application/json"},
    )
    assert gone.status_code == 404 and gone.json()["error"] == "NotFound"


def test_another_agents_lead_cannot_be_moved_and_the_form_needs_its_token(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    avi = make_user(clean_db, "avi@agency.co.il", Role.AGENT)
    theirs = _lead(admin, "Not hers", "050-100-0003", assigned_agent_id=avi)
    mine = _lead(admin, "יעל כהן", "050-100-0001")
    make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    sign_in(browser_client, "dana@agency.co.il")
    token = csrf_of(browser_client.get("/pipeline"))
    hidden = browser_client.post(
        "/pipeline/move", data={"lead_id": theirs, "stage": "lost", "csrf": token}
    )
    assert hidden.status_code == 404 and "Not hers" not in hidden.text
    for data in (
        {"lead_id": mine, "stage": "lost"},
        {"lead_id": mine, "stage": "lost", "csrf": "x"},
    ):
        assert browser_client.post("/pipeline/move", data=data).status_code == 403
    assert _stage(admin, theirs) == "new" and _stage(admin, mine) == "new"


def test_the_board_in_english(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    _lead(admin, "Orit Golan", "050-100-0001")
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    sign_in(browser_client, "boss@agency.co.il")
    token = csrf_of(browser_client.get("/account"))
    browser_client.post("/account/language", data={"language": "en", "csrf": token})
    page = browser_client.get("/pipeline")
    assert '<html lang="en" dir="ltr">' in page.text
    for words in ("Pipeline", "Viewing scheduled", "Move", "Drag a card"):
        assert words in page.text, words
    board = page.text.split('<div class="board"', 1)[1]
    assert not HEBREW.search(board)


# A real browser: Debian's chromium driven by Playwright.


def test_in_a_browser_a_lead_moves_by_keyboard_and_by_drag_and_a_viewing_is_booked(
    browser: Any, server: Any, admin: httpx.Client, clean_db: Settings, tmp_path: Path
) -> None:
    lead = _lead(admin, "יעל כהן", "050-100-0001")
    make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="he-IL")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        sign_in_page(page, server.url, "dana@agency.co.il")
        page.goto(f"{server.url}/pipeline")
        page.evaluate("window.notReloaded = true")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1]  # no sideways scroll on a phone
        page.screenshot(path=str(tmp_path / "board-phone.png"), full_page=True)

        # By keyboard: focus the card, an arrow key toward the next column (left, in
        # Hebrew's right-to-left), then Enter.
        card = page.locator(f"#lead-{lead}")
        card.focus()
        page.keyboard.press("ArrowLeft")
        assert page.locator("section.column.target").get_attribute("data-stage") == "contacted"
        assert "נוצר קשר" in page.locator("#board-status").inner_text()
        page.keyboard.press("Enter")
        page.locator(f'section[data-stage="contacted"] #lead-{lead}').wait_for()
        assert _stage(admin, lead) == "contacted"
        assert page.evaluate("document.activeElement.id") == f"lead-{lead}"  # still focused
        counts = page.locator('section[data-stage="contacted"] .count').inner_text()
        assert counts == "1"

        # By drag: onto the negotiation column.
        page.set_viewport_size({"width": 1400, "height": 900})
        card.drag_to(page.locator('section[data-stage="negotiation"]'))
        page.locator(f'section[data-stage="negotiation"] #lead-{lead}').wait_for()
        assert _stage(admin, lead) == "negotiation"
        assert page.evaluate("window.notReloaded") is True  # moved in place
        back = card.locator("button.step.back")
        assert back.get_attribute("value") == "viewing_done"  # the buttons follow the card
        page.screenshot(path=str(tmp_path / "board-desktop.png"), full_page=True)

        # Book a viewing.
        page.click('a[href="/meetings"]')
        page.select_option("select[name=lead_id]", lead)
        page.fill("input[name=day]", "12/01/2049")
        page.fill("input[name=at]", "10:30")
        page.click("#book button[type=submit]")
        page.wait_for_url(re.compile(r"/meetings\?view=day&date=2049-01-12#meeting-"))
        item = page.locator("li.meeting")
        assert "10:30" in item.inner_text() and "יעל כהן" in item.inner_text()
        page.set_viewport_size({"width": 390, "height": 844})
        for path in ("/meetings", "/properties"):
            page.goto(f"{server.url}{path}")
            width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], path  # no sideways scroll on a phone
        page.goto(f"{server.url}/meetings?view=day&date=2049-01-12")
        page.screenshot(path=str(tmp_path / "meetings-phone.png"), full_page=True)
        assert errors == []
    finally:
        page.close()
    stored = admin.get("/api/v1/meetings", params={"lead_id": lead}).json()["items"]
    assert [m["starts_at"] for m in stored] == ["2049-01-12T10:30:00+02:00"]
