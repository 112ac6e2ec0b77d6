"""The lead page's composer and in-place edits, through the real app: free text only inside
the 24-hour window, the template picker (pre-filled parameters, the exact text previewed,
refusals with their reason beside the form), one message per form even when posted twice,
stage and agent changed in place (audited), other agents' leads hidden, CSRF required;
and a real browser sending free text."""

from __future__ import annotations

import html
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from ovenai.models import Language, Role
from ovenai.settings import Settings
from support.dashboard import csrf_of, make_user, sign_in, sign_in_page
from support.templates import seed_templates
from support.webhooks import post_text


def ten_minutes_ago() -> int:
    """Meta's timestamp of a message the lead sent ten minutes ago: their window is open."""
    return int(time.time()) - 600


APP_SECRET = "test-app-secret"  # tests/conftest.py TEST_APP_SECRET
KEY = re.compile(r'name="key" value="([^"]+)"')
AGENT = "dana.agent@agency.co.il"
WELCOME_HE = "שלום נועה, תודה על פנייתך לגבי הנכס בחיפה. נחזור אליך בהקדם עם פרטים נוספים."


def _lead(admin: httpx.Client, phone: str, agent_id: str | None, **fields: object) -> str:
    body = {"name": "נועה", "phone": phone, "assigned_agent_id": agent_id, **fields}
    answer = admin.post("/api/v1/leads", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _page_once(browser: httpx.Client, path: str, wanted: str) -> httpx.Response:
    """The page, once the webhook processor has applied what it should show."""
    deadline = time.monotonic() + 15
    while wanted not in (page := browser.get(path)).text:
        assert time.monotonic() < deadline, f"{wanted!r} never appeared on {path}"
        time.sleep(0.05)
    return page


def _messages(admin: httpx.Client, lead_id: str) -> list[dict[str, Any]]:
    answer = admin.get(f"/api/v1/leads/{lead_id}/messages")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return [message for message in found if message["direction"] == "outbound"]


def _form(page: httpx.Response, **fields: object) -> dict[str, object]:
    """A form of the page: its CSRF token and Idempotency-Key, and the fields given."""
    match = KEY.search(page.text)
    assert match, "the page has no composer key"
    return {"csrf": csrf_of(page), "key": match.group(1), **fields}


def _error(page: httpx.Response, of: str) -> str:
    match = re.search(rf'<p class="error" id="{of}-error" role="alert">(.*?)</p>', page.text)
    assert match, f"no error beside {of}"
    return html.unescape(match.group(1))


def _value(page: httpx.Response, element_id: str) -> str:
    match = re.search(rf'id="{element_id}" name="params" value="([^"]*)"', page.text)
    assert match, element_id
    return html.unescape(match.group(1))


@pytest.fixture
def agent_id(clean_db: Settings) -> str:
    return make_user(clean_db, AGENT, Role.AGENT)


@pytest.fixture
def dana(browser_client: httpx.Client, agent_id: str) -> httpx.Client:
    """The agent, signed in."""
    assert sign_in(browser_client, AGENT).status_code == 303
    return browser_client


def test_free_text_goes_inside_the_window_and_is_refused_outside_it_with_the_reason(
    dana: httpx.Client, admin: httpx.Client, anonymous: httpx.Client, agent_id: str
) -> None:
    open_lead = _lead(admin, "0501112233", agent_id)
    closed_lead = _lead(admin, "0501112234", agent_id)
    post_text(anonymous, "972501112233", "שלום, הדירה עוד פנויה?", ten_minutes_ago())

    page = _page_once(dana, f"/leads/{open_lead}", "החלון פתוח")
    assert re.search(r"החלון פתוח, נותרו 23 ש׳ [45]\d דק׳", page.text)
    assert '<textarea id="compose-text" name="text" rows="4" dir="auto"' in page.text
    sent = dana.post(f"/leads/{open_lead}/text", data=_form(page, text="כן, פנויה. מתי נוח לך?"))
    assert sent.status_code == 303 and sent.headers["location"] == f"/leads/{open_lead}"
    (queued,) = _messages(admin, open_lead)
    assert (queued["text"], queued["status"]) == ("כן, פנויה. מתי נוח לך?", "queued")
    assert "כן, פנויה. מתי נוח לך?" in dana.get(f"/leads/{open_lead}").text

    closed = dana.get(f"/leads/{closed_lead}")
    assert "compose-text" not in closed.text  # no free-text form while the window is closed
    assert "חלון 24 השעות סגור: אפשר לשלוח רק תבנית מאושרת." in closed.text
    # A form drawn while the window was open, sent after it closed.
    stale = {"csrf": csrf_of(closed), "key": "dashboard-drawn-earlier", "text": "היי נועה"}
    refused = dana.post(f"/leads/{closed_lead}/text", data=stale)
    assert refused.status_code == 409
    assert _error(refused, "text").startswith("חלון 24 השעות סגור: אי אפשר לשלוח טקסט חופשי")
    assert ">היי נועה</textarea>" in refused.text  # what she typed is kept
    assert _messages(admin, closed_lead) == []


def test_the_template_picker_prefills_the_parameters_and_previews_the_exact_hebrew_text(
    dana: httpx.Client, admin: httpx.Client, agent_id: str, clean_db: Settings
) -> None:
    seed_templates(clean_db)
    lead = _lead(admin, "0501112233", agent_id, want_city="חיפה")
    bare = _lead(admin, "0501112234", agent_id)

    page = dana.get(f"/leads/{lead}", params={"family": "welcome_new_lead"})
    assert page.status_code == 200
    assert '<option value="welcome_new_lead" selected>ברכה לליד חדש</option>' in page.text
    assert (_value(page, "param-1"), _value(page, "param-2")) == ("נועה", "חיפה")
    assert 'name="params" value="נועה" dir="auto"' in page.text
    composer = page.text.split('<section class="composer" id="composer">', 1)[1]
    composer = composer.split("</section>", 1)[0]
    assert not re.search(r"[A-Za-z]", re.sub(r"<[^>]*>", " ", composer))  # all of it Hebrew
    shown = dana.post(
        f"/leads/{lead}/template",
        data=_form(page, family="welcome_new_lead", params=["נועה", "חיפה"], action="preview"),
    )
    assert shown.status_code == 200
    assert f'<p class="preview-text" dir="auto">{WELCOME_HE}</p>' in shown.text
    assert _messages(admin, lead) == []  # a preview sends nothing

    # A value the lead's data lacks is left empty for the agent; previewing without it says so.
    missing = dana.get(f"/leads/{bare}", params={"family": "welcome_new_lead"})
    assert (_value(missing, "param-1"), _value(missing, "param-2")) == ("נועה", "")
    refused = dana.post(
        f"/leads/{bare}/template",
        data=_form(missing, family="welcome_new_lead", params=["נועה ", ""], action="preview"),
    )
    assert refused.status_code == 422
    assert _error(refused, "template") == "יש למלא את פרמטר {{2}}."
    assert _value(refused, "param-1") == "נועה "  # as typed


def test_a_form_posted_twice_with_its_key_queues_one_message(
    dana: httpx.Client, admin: httpx.Client, agent_id: str, clean_db: Settings
) -> None:
    seed_templates(clean_db)
    lead = _lead(admin, "0501112233", agent_id, want_city="חיפה")
    page = dana.get(f"/leads/{lead}")
    form = _form(page, family="welcome_new_lead", params=["נועה", "חיפה"], action="send")

    first = dana.post(f"/leads/{lead}/template", data=form)
    again = dana.post(f"/leads/{lead}/template", data=form)  # a double click
    assert (first.status_code, again.status_code) == (303, 303)
    (queued,) = _messages(admin, lead)
    assert (queued["template"], queued["text"]) == ("welcome_new_lead_he", WELCOME_HE)
    assert WELCOME_HE in dana.get(f"/leads/{lead}").text  # the queued message shows

    # Two posts of one fresh form at the same moment: still one message.
    page = dana.get(f"/leads/{lead}")
    form = _form(page, family="welcome_new_lead", params=["נועה", "חיפה"], action="send")
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda _: dana.post(f"/leads/{lead}/template", data=form), range(2))
        )
    assert [answer.status_code for answer in answers] == [303, 303]
    assert len(_messages(admin, lead)) == 2


def test_a_marketing_template_to_a_lead_who_opted_out_is_refused_with_the_reason(
    dana: httpx.Client, admin: httpx.Client, agent_id: str, clean_db: Settings
) -> None:
    seed_templates(clean_db)
    lead = _lead(admin, "0501112233", agent_id)
    assert admin.patch(f"/api/v1/leads/{lead}", json={"opted_in": False}).status_code == 200
    page = dana.get(f"/leads/{lead}", params={"family": "property_details"})
    assert "הליד ביקש לא לקבל הודעות שיווקיות" in page.text
    params = ["נועה", "חיפה", "4", "95", "₪2,450,000"]
    form = _form(page, family="property_details", params=params, action="send")

    refused = dana.post(f"/leads/{lead}/template", data=form)
    assert refused.status_code == 409
    assert _error(refused, "template").startswith("הליד ביקש להפסיק לקבל הודעות שיווקיות")
    assert _value(refused, "param-5") == "₪2,450,000"
    assert _messages(admin, lead) == []
    preview = dana.post(f"/leads/{lead}/template", data={**form, "action": "preview"})
    assert preview.status_code == 409  # the preview says so before any send

    token = csrf_of(dana.get("/account"))
    dana.post("/account/language", data={"language": Language.EN.value, "csrf": token})
    english = dana.post(f"/leads/{lead}/template", data=form)
    assert english.status_code == 409
    assert _error(english, "template") == (
        "The lead asked to stop receiving marketing messages, and this is a marketing"
        " template. A utility template may still be sent."
    )
    welcome = {**form, "family": "welcome_new_lead", "params": ["נועה", "חיפה"]}
    assert dana.post(f"/leads/{lead}/template", data=welcome).status_code == 303  # utility
    assert [m["template"] for m in _messages(admin, lead)] == ["welcome_new_lead_he"]


def test_stage_and_agent_change_in_place_and_are_audited(
    dana: httpx.Client, admin: httpx.Client, agent_id: str, clean_db: Settings
) -> None:
    lead = _lead(admin, "0501112233", None)
    page = dana.get(f"/leads/{lead}")
    token = csrf_of(page)

    moved = dana.post(f"/leads/{lead}/stage", data={"stage": "negotiation", "csrf": token})
    assert moved.status_code == 303
    assert (
        '<option value="negotiation" selected>משא ומתן</option>' in dana.get(f"/leads/{lead}").text
    )
    assert admin.get(f"/api/v1/leads/{lead}").json()["stage"] == "negotiation"
    audit = admin.get("/api/v1/audit", params={"subject_id": lead}).json()
    updates = [entry for entry in audit if entry["action"] == "update"]
    assert updates and updates[0]["details"] == {"fields": ["stage"]}
    assert updates[0]["actor"] == AGENT

    bad = dana.post(f"/leads/{lead}/stage", data={"stage": "sold_twice", "csrf": token})
    assert bad.status_code == 422 and _error(bad, "stage") == "יש לבחור שלב מהרשימה."

    # An agent takes an unassigned lead, and may not give it to someone else.
    other = make_user(clean_db, "avi.agent@agency.co.il", Role.AGENT)
    taken = dana.post(f"/leads/{lead}/agent", data={"agent": agent_id, "csrf": token})
    assert taken.status_code == 303
    assert admin.get(f"/api/v1/leads/{lead}").json()["assigned_agent_id"] == agent_id
    given = dana.post(f"/leads/{lead}/agent", data={"agent": other, "csrf": token})
    assert given.status_code == 403
    assert _error(given, "agent") == "סוכנים יכולים לשייך ליד רק לעצמם."
    assert admin.get(f"/api/v1/leads/{lead}").json()["assigned_agent_id"] == agent_id


def test_an_admin_assigns_anyone(
    browser_client: httpx.Client, admin: httpx.Client, agent_id: str, clean_db: Settings
) -> None:
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    assert sign_in(browser_client, "boss@agency.co.il").status_code == 303
    lead = _lead(admin, "0501112233", None)
    page = browser_client.get(f"/leads/{lead}")
    assert f'<option value="{agent_id}" dir="ltr">{AGENT}</option>' in page.text
    data = {"agent": agent_id, "csrf": csrf_of(page)}
    assert browser_client.post(f"/leads/{lead}/agent", data=data).status_code == 303
    assert admin.get(f"/api/v1/leads/{lead}").json()["assigned_agent_id"] == agent_id


def test_another_agents_lead_is_404_and_every_form_needs_its_csrf_token(
    dana: httpx.Client, admin: httpx.Client, anonymous: httpx.Client, clean_db: Settings
) -> None:
    other = make_user(clean_db, "avi.agent@agency.co.il", Role.AGENT)
    theirs = _lead(admin, "0501112233", other)
    post_text(anonymous, "972501112233", "שלום", ten_minutes_ago())
    page = dana.get("/account")
    token = csrf_of(page)
    assert dana.get(f"/leads/{theirs}").status_code == 404
    for path, data in (
        ("text", {"key": "k-1", "text": "היי"}),
        ("template", {"key": "k-2", "family": "welcome_new_lead", "params": ["א", "ב"]}),
        ("stage", {"stage": "lost"}),
        ("agent", {"agent": ""}),
    ):
        answer = dana.post(f"/leads/{theirs}/{path}", data={**data, "csrf": token})
        assert answer.status_code == 404, path
        assert "נועה" not in answer.text

    mine = _lead(admin, "0501112235", None)
    for path, data in (
        ("text", {"key": "k-3", "text": "היי"}),
        ("stage", {"stage": "lost"}),
        ("agent", {"agent": ""}),
    ):
        assert dana.post(f"/leads/{mine}/{path}", data=data).status_code == 403, path
        wrong = {**data, "csrf": "not-the-token"}
        assert dana.post(f"/leads/{mine}/{path}", data=wrong).status_code == 403, path
    assert admin.get(f"/api/v1/leads/{mine}").json()["stage"] == "new"
    assert _messages(admin, mine) == []


# A real browser.


def test_an_agent_answers_a_lead_inside_the_window_in_the_browser(
    browser: Any,
    server: Any,
    admin: httpx.Client,
    anonymous: httpx.Client,
    agent_id: str,
    browser_client: httpx.Client,
) -> None:
    lead = _lead(admin, "0501112233", agent_id)
    post_text(anonymous, "972501112233", "מתי אפשר לראות את הדירה?", ten_minutes_ago())
    sign_in(browser_client, AGENT)
    _page_once(browser_client, f"/leads/{lead}", "החלון פתוח")  # the webhook was applied
    page = browser.new_page()
    try:
        sign_in_page(page, server.url, AGENT)
        page.goto(f"{server.url}/leads/{lead}")
        assert "החלון פתוח" in page.locator("p.window.open").inner_text()
        page.fill("#compose-text", "אפשר מחר ב-18:00")
        page.click("form.compose-text button[type=submit]")
        page.wait_for_url(f"{server.url}/leads/{lead}")
        conversation = page.locator("section.conversation").inner_text()
        assert "מתי אפשר לראות את הדירה?" in conversation
        assert "אפשר מחר ב-18:00" in conversation
        assert page.locator("#compose-text").input_value() == ""  # a fresh form
    finally:
        page.close()
    assert [m["text"] for m in _messages(admin, lead)] == ["אפשר מחר ב-18:00"]
