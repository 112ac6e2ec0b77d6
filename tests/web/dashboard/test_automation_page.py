"""The admins' automation page: the default rules described in words (Hebrew, and English for
a user who chose it), switched off by their button, edited as JSON (a refusal keeps the text
and changes nothing), and each rule's log a page at a time; agents see none of it, and every
form needs its CSRF token. Last, the same switch in a real browser."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ovenai import automation
from ovenai.auth import Actor
from ovenai.db import open_database
from ovenai.models import AutomationFiring, AutomationRule, Role, SequenceEnrolment
from ovenai.settings import Settings
from support.aio import run_async
from support.automation import seed_default_rules
from support.dashboard import PASSWORD, csrf_of, make_user, sign_in

ADMIN = "owner@agency.co.il"
AGENT = "dana.agent@agency.co.il"
HEBREW = re.compile(r"[\u0590-\u05ff]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
SYSTEM = Actor.system()  # reads the rules as they are stored
GREET = "greet_new_whatsapp_lead"
API_GREET = "greet_new_api_lead"
CONTACTED = "first_answer_contacted"


def _rule(settings: Settings, key: str) -> automation.RuleRecord:
    async def work() -> automation.RuleRecord:
        db = open_database(settings)
        try:
            await db.start()
            return await automation.get_rule(db, actor=SYSTEM, rule=key)
        finally:
            await db.dispose()

    return run_async(work)


def _stored_definition(settings: Settings, key: str) -> str:
    async def work() -> str:
        db = open_database(settings)
        try:
            await db.start()
            async with db.session() as session:
                found = await session.scalar(
                    select(AutomationRule.definition).where(AutomationRule.key == key)
                )
            assert found is not None
            return found
        finally:
            await db.dispose()

    return run_async(work)


def _fire(
    settings: Settings, key: str, lead_id: str, *, times: list[tuple[datetime, str, str]]
) -> None:
    """Log rows of the rule for the lead, oldest first: (when, outcome, detail)."""

    async def work() -> None:
        db = open_database(settings)
        try:
            await db.start()
            async with db.session() as session:
                rule_id = await session.scalar(
                    select(AutomationRule.id).where(AutomationRule.key == key)
                )
                for n, (at, outcome, detail) in enumerate(times):
                    session.add(
                        AutomationFiring(
                            id=_id_at(at),
                            rule_id=rule_id,
                            lead_id=lead_id,
                            event=f"message:{n}",
                            outcome=outcome,
                            detail=detail,
                            at=at,
                        )
                    )
                await session.commit()
        finally:
            await db.dispose()

    run_async(work)


def _id_at(at: datetime) -> str:
    """A UUIDv7 made at ``at``, as the engine's ids are made when it writes the row (the log
    is ordered by id)."""
    millis = int(at.timestamp() * 1000)
    return str(uuid.UUID(int=(millis << 80) | (0x7 << 76) | (0b10 << 62) | uuid.uuid4().int >> 66))


def _lead(admin: httpx.Client) -> str:
    answer = admin.post("/api/v1/leads", json={"name": "יעל כהן", "phone": "0501112233"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _choose_english(browser: httpx.Client) -> None:
    token = csrf_of(browser.get("/account"))
    chosen = browser.post("/account/language", data={"language": "en", "csrf": token})
    assert chosen.status_code == 303


class _Visible(HTMLParser):
    """The text a reader sees, leaving out what is marked left-to-right (keys, ids, Meta's
    template names, the JSON) when asked."""

    VOID = {"meta", "link", "input", "br", "img", "hr"}

    def __init__(self, skip_ltr: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.skip_ltr = skip_ltr
        self.skipping: list[bool] = []
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        skipped = bool(self.skipping and self.skipping[-1]) or (
            self.skip_ltr and dict(attrs).get("dir") == "ltr"
        )
        if tag not in self.VOID:
            self.skipping.append(skipped)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.skipping:
            self.skipping.pop()

    def handle_data(self, data: str) -> None:
        if not (self.skipping and self.skipping[-1]):
            self.parts.append(data)


def _wholly(page: httpx.Response, language: str, data: list[str]) -> None:
    """The page speaks ``language`` only, but for ``data`` (what the admin wrote) and what is
    marked left-to-right."""
    reader = _Visible(skip_ltr=language == "he")
    reader.feed(page.text)
    shown = " ".join(reader.parts)
    for value in data:
        shown = shown.replace(value, " ")
    if language == "en":
        assert not HEBREW.search(shown), shown
    else:
        shown = re.sub(r"[\w.+-]+@[\w.-]+", " ", shown)  # the signed-in user's e-mail
        assert set(LATIN_WORD.findall(shown)) <= {"OvenAI", "API", "webhook"}, shown


def _row(page: httpx.Response, key: str) -> str:
    """The list page's row of one rule."""
    return page.text.split(f'id="rule-{key}"')[1].split("</tr>")[0]


def _textarea(page: httpx.Response) -> str:
    found = re.search(r"<textarea[^>]*>(.*?)</textarea>", page.text, re.S)
    assert found, "the page has no textarea"
    return unescape(found.group(1))


def test_an_admin_sees_the_default_rules_in_words_in_hebrew_and_in_english(
    browser_client: httpx.Client, clean_db: Settings
) -> None:
    seed_default_rules(clean_db)
    make_user(clean_db, ADMIN, Role.ADMIN)
    sign_in(browser_client, ADMIN)
    home = browser_client.get("/")
    assert 'href="/admin/automation"' in home.text and "אוטומציה" in home.text

    page = browser_client.get("/admin/automation")
    assert page.status_code == 200 and "<h1>אוטומציה</h1>" in page.text
    keys = re.findall(r'id="rule-([a-z_]+)"', page.text)
    assert keys[:3] == [GREET, API_GREET, CONTACTED]  # run order
    assert keys == [rule.key for rule in automation.load_seed()]
    assert "יום לפני צפייה" in _row(page, "remind_day_before")
    assert "מהשעה 18:00" in _row(page, "remind_day_before")
    assert "3 שעות אחרי שהסתיימה" in _row(page, "follow_up_after_viewing")
    greet, api_greet, contacted = (_row(page, key) for key in keys[:3])
    assert "הודעה ראשונה מליד חדש" in greet and "כל ליד" in greet
    assert "שליחת התבנית (ואם אי אפשר לשלוח אותה" in greet
    assert '<bdi dir="ltr">welcome_new_lead</bdi>' in greet
    assert "ליד חדש דרך ה-API" in api_greet and "שליחת תבנית" in api_greet
    assert "כל הודעה מליד" in contacted
    assert "שלב: חדש" in contacted and "העברה לשלב: נוצר קשר" in contacted
    for row in (greet, api_greet, contacted):
        assert '<span class="state">פועל</span>' in row and "כיבוי" in row
        assert "<td>0</td>" in row and "<td>—</td>" in row  # nothing fired, never
    assert "אין הפעלות עדיין" in page.text
    data = [_rule(clean_db, key).definition.name for key in keys]
    _wholly(page, "he", data)

    _choose_english(browser_client)
    english = browser_client.get("/admin/automation")
    assert english.status_code == 200 and "<h1>Automation</h1>" in english.text
    greet, api_greet, contacted = (_row(english, key) for key in keys[:3])
    assert "The day before a viewing" in _row(english, "remind_day_before")
    assert "First message from a new lead" in greet and "Every lead" in greet
    assert "A new lead from the API (or an import asked to greet)" in api_greet
    assert "Send template" in api_greet and "welcome_new_lead" in api_greet
    assert "Stage: New" in contacted and "Move to stage: Contacted" in contacted
    assert '<span class="state">On</span>' in contacted and "Turn off" in contacted
    _wholly(english, "en", data)

    rule = browser_client.get(f"/admin/automation/{GREET}")
    assert rule.status_code == 200 and "Edit the rule" in rule.text
    description = _rule(clean_db, GREET).definition.description
    assert description in unescape(rule.text)
    # The rule's English texts are data; on the rule page its Hebrew one is too (in the JSON).
    _wholly(
        rule, "en", [*data, description, "שלום, תודה על פנייתך! נחזור אליך בהקדם עם פרטים נוספים."]
    )


EVERYTHING = {
    "name": "כל סוגי התנאים",
    "trigger": {
        "kind": "button",
        "intents": ["wants_viewing", "opt_out"],
        "keywords": ["חניה", "parking"],
        "payloads": ["confirm_viewing"],
    },
    "conditions": {
        "stages": ["contacted", "viewing_scheduled"],
        "languages": ["en"],
        "sources": ["whatsapp", "manual"],
        "min_score": 20,
        "max_score": 80,
        "assigned": False,
        "agents": ["AGENT_ID"],
        "has_property": True,
    },
    "actions": [
        {"type": "send_text", "text": {"he": "נדבר מחר", "en": "Talk tomorrow"}},
        {"type": "set_stage", "stage": "new", "backwards": True},
        {"type": "assign_agent", "agent_id": "AGENT_ID", "replace": True},
        {"type": "assign_agent", "agent_id": "AGENT_ID"},
    ],
}


def _create(settings: Settings, key: str, raw: dict[str, Any]) -> None:
    async def work() -> None:
        db = open_database(settings)
        try:
            await db.start()
            definition = automation.parse_definition(raw)
            await automation.create_rule(db, actor=SYSTEM, key=key, definition=definition)
        finally:
            await db.dispose()

    run_async(work)


def test_every_trigger_condition_and_action_is_said_in_words(
    browser_client: httpx.Client, clean_db: Settings
) -> None:
    make_user(clean_db, ADMIN, Role.ADMIN)
    agent_id = make_user(clean_db, AGENT, Role.AGENT)
    raw = json.loads(json.dumps(EVERYTHING).replace("AGENT_ID", agent_id))
    _create(clean_db, "everything", raw)
    sign_in(browser_client, ADMIN)
    row = _row(browser_client.get("/admin/automation"), "everything")
    for said in (
        "לחיצה על כפתור או על שורה ברשימה",
        "כוונה: רוצה סיור בנכס, מבקש להפסיק את ההודעות",
        'מילים בהודעה: <bdi dir="auto">חניה</bdi>, <bdi dir="auto">parking</bdi>',
        'מזהי כפתורים: <bdi dir="ltr">confirm_viewing</bdi>',
        "שלב: נוצר קשר, נקבע סיור בנכס",
        "שפה: אנגלית",
        "מקור: וואטסאפ, הוספה ידנית",
        "ציון מעורבות של 20 לפחות",
        "ציון מעורבות של 80 לכל היותר",
        "רק לידים בלי סוכן",
        f'לידים של הסוכנים: <bdi dir="ltr">{AGENT}</bdi>',
        "רק לידים שיש להם נכס",
        'שליחת טקסט כשחלון 24 השעות פתוח: <bdi dir="auto">נדבר מחר</bdi>',
        "העברה לשלב: חדש, גם אחורה",
        f'שיוך לסוכן, במקום הסוכן הנוכחי: <bdi dir="ltr">{AGENT}</bdi>',
        f'שיוך לסוכן, אם אין לליד סוכן: <bdi dir="ltr">{AGENT}</bdi>',
    ):
        assert said in row, said
    assert agent_id not in row  # agents by e-mail, not by id

    _choose_english(browser_client)
    english = browser_client.get("/admin/automation")
    row = _row(english, "everything")
    for said in (
        "A tap on a button or a list row",
        "Intent: wants a viewing, asks to stop the messages",
        "Stage: Contacted, Viewing scheduled",
        "Language: English",
        "Source: WhatsApp, added by hand",
        "Engagement score at least 20",
        "Only leads without an agent",
        "Only leads with a property",
        'Send a text while the 24-hour window is open: <bdi dir="auto">Talk tomorrow</bdi>',
        "Move to stage: New, even backwards",
        "Assign to the agent, replacing the current one:",
    ):
        assert said in row, said
    _wholly(english, "en", ["כל סוגי התנאים", "חניה"])


def test_the_button_switches_a_rule_off_in_the_database_and_on_again(
    browser_client: httpx.Client, clean_db: Settings
) -> None:
    seed_default_rules(clean_db)
    make_user(clean_db, ADMIN, Role.ADMIN)
    sign_in(browser_client, ADMIN)
    page = browser_client.get("/admin/automation")
    assert f'action="/admin/automation/{CONTACTED}/disable"' in _row(page, CONTACTED)

    off = browser_client.post(
        f"/admin/automation/{CONTACTED}/disable",
        data={"csrf": csrf_of(page)},
        follow_redirects=True,
    )
    assert off.status_code == 200 and str(off.url).endswith("/admin/automation")
    assert _rule(clean_db, CONTACTED).enabled is False
    assert _rule(clean_db, GREET).enabled is True  # only that one
    row = _row(off, CONTACTED)
    assert '<span class="state">כבוי</span>' in row and "הפעלה" in row
    assert f'action="/admin/automation/{CONTACTED}/enable"' in row
    rule_page = browser_client.get(f"/admin/automation/{CONTACTED}")
    assert '<dd class="state">כבוי</dd>' in rule_page.text

    on = browser_client.post(
        f"/admin/automation/{CONTACTED}/enable", data={"csrf": csrf_of(off)}, follow_redirects=True
    )
    assert '<span class="state">פועל</span>' in _row(on, CONTACTED)
    assert _rule(clean_db, CONTACTED).enabled is True
    unknown = browser_client.post(
        f"/admin/automation/{CONTACTED}/toggle", data={"csrf": csrf_of(on)}
    )
    assert unknown.status_code == 404
    assert (
        browser_client.post(
            "/admin/automation/no_such_rule/disable", data={"csrf": csrf_of(on)}
        ).status_code
        == 404
    )


def test_editing_the_json_changes_the_stored_rule(
    browser_client: httpx.Client, clean_db: Settings
) -> None:
    seed_default_rules(clean_db)
    make_user(clean_db, ADMIN, Role.ADMIN)
    sign_in(browser_client, ADMIN)
    before = _rule(clean_db, GREET).definition
    page = browser_client.get(f"/admin/automation/{GREET}")
    assert page.status_code == 200
    text = _textarea(page)
    # Pretty, and Hebrew written as Hebrew (not \\u05e9...).
    assert text.startswith('{\n  "name": ') and "שלום, תודה על פנייתך!" in text
    assert json.loads(text) == json.loads(_stored_definition(clean_db, GREET))

    changed = json.loads(text)
    changed["name"] = "ברכה לליד שכותב בעברית"
    changed["conditions"] = {"languages": ["he"], "min_score": 10}
    saved = browser_client.post(
        f"/admin/automation/{GREET}",
        data={"definition": json.dumps(changed, ensure_ascii=False), "csrf": csrf_of(page)},
    )
    assert saved.status_code == 200 and "הכלל נשמר." in saved.text
    assert '<h1 dir="auto">ברכה לליד שכותב בעברית</h1>' in saved.text
    assert "שפה: עברית" in saved.text and "ציון מעורבות של 10 לפחות" in saved.text
    stored = _rule(clean_db, GREET).definition
    assert stored.name == "ברכה לליד שכותב בעברית"
    assert stored.conditions.languages == ["he"] and stored.conditions.min_score == 10
    assert (stored.trigger, stored.actions) == (before.trigger, before.actions)  # the rest kept
    listed = browser_client.get("/admin/automation")
    assert "ברכה לליד שכותב בעברית" in _row(listed, GREET)


@pytest.mark.parametrize(
    ("sent", "error", "problem"),
    [
        ('{"name": "x",\n  trigger: 1}', "התחביר של הטקסט אינו תקין (שורה 2, עמודה 3).", None),
        ('["a list"]', "הכלל אינו תקין:", "Input should be a valid dictionary"),
        (
            '{"name": "x", "trigger": {"kind": "sometimes"}, "actions": []}',
            "הכלל אינו תקין:",
            "trigger.kind",
        ),
    ],
)
def test_invalid_json_or_an_invalid_rule_is_refused_with_the_text_kept(
    browser_client: httpx.Client, clean_db: Settings, sent: str, error: str, problem: str | None
) -> None:
    seed_default_rules(clean_db)
    make_user(clean_db, ADMIN, Role.ADMIN)
    sign_in(browser_client, ADMIN)
    before = _stored_definition(clean_db, GREET)
    page = browser_client.get(f"/admin/automation/{GREET}")
    refused = browser_client.post(
        f"/admin/automation/{GREET}", data={"definition": sent, "csrf": csrf_of(page)}
    )
    assert refused.status_code == 422
    assert f'<p class="error" role="alert">{error}' in refused.text
    if problem is not None:
        shown = refused.text.split('role="alert">')[1].split("</p>")[0]
        assert problem in unescape(shown) and "the rule is not valid" not in shown
    assert _textarea(refused) == sent  # as sent, to correct
    assert "הכלל נשמר." not in refused.text
    assert _stored_definition(clean_db, GREET) == before


def test_the_log_shows_each_firing_newest_first_a_page_at_a_time(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    make_user(clean_db, ADMIN, Role.ADMIN)
    lead_id = _lead(admin)  # before the rules: this log holds only the rows written below
    seed_default_rules(clean_db)
    start = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)  # 12:00 in Jerusalem (summer, UTC+3)
    rows = [
        (start + timedelta(minutes=n), "done", f"stage new → contacted #{n}") for n in range(50)
    ]
    rows.append((start + timedelta(hours=2), "skipped", "not sent: the lead opted out"))
    _fire(clean_db, GREET, lead_id, times=[(start, "failed", "failed: see the worker's log")])
    _fire(clean_db, CONTACTED, lead_id, times=rows)  # the log is newest first by id
    sign_in(browser_client, ADMIN)

    listed = browser_client.get("/admin/automation")
    row = _row(listed, CONTACTED)
    assert "<td>50</td>" in row and "<td>1</td>" in row and "01/07/2026 14:00" in row
    latest = listed.text.split("ההפעלות האחרונות")[1]
    assert latest.count('<tr class="outcome-') == 20  # the last twenty of all rules
    first = latest.split('<tr class="outcome-')[1]
    assert first.startswith("skipped") and "דולג" in first and "01/07/2026 14:00" in first
    assert f'href="/leads/{lead_id}"' in first and "not sent: the lead opted out" in first

    page = browser_client.get(f"/admin/automation/{CONTACTED}")
    log = page.text.split("<h2>יומן</h2>")[1]
    assert log.count('<tr class="outcome-') == 50
    entries = log.split('<tr class="outcome-')[1:]
    assert entries[0].startswith("skipped") and "דולג" in entries[0]
    assert entries[1].startswith("done") and "בוצע" in entries[1]
    assert "#49" in entries[1] and "01/07/2026 12:49" in entries[1]
    assert f'<a href="/leads/{lead_id}">' in entries[1]
    assert "failed: see" not in log  # another rule's
    older = re.search(r'href="(/admin/automation/[a-z_]+\?cursor=[^"]+)"', log)
    assert older and "הפעלות קודמות" in log
    rest = browser_client.get(unescape(older.group(1)))
    entries = rest.text.split("<h2>יומן</h2>")[1].split('<tr class="outcome-')[1:]
    assert len(entries) == 1 and "#0<" in entries[0] and "01/07/2026 12:00" in entries[0]
    assert "הפעלות קודמות" not in rest.text
    greet = browser_client.get(f"/admin/automation/{GREET}")
    assert "נכשלה" in greet.text.split("<h2>יומן</h2>")[1]
    assert browser_client.get(f"/admin/automation/{CONTACTED}?cursor=nonsense").status_code == 422


def test_agents_get_the_404_of_a_page_that_does_not_exist(
    browser_client: httpx.Client, clean_db: Settings
) -> None:
    seed_default_rules(clean_db)
    make_user(clean_db, AGENT, Role.AGENT)
    sign_in(browser_client, AGENT)
    home = browser_client.get("/")
    assert 'href="/admin/automation"' not in home.text
    token = csrf_of(home)
    assert browser_client.get("/admin/automation").status_code == 404
    assert browser_client.get(f"/admin/automation/{GREET}").status_code == 404
    missing = browser_client.get("/admin/no-such-page")
    assert missing.status_code == 404  # the same page as for what does not exist
    assert browser_client.get("/admin/automation").text == missing.text
    edit = {"definition": _stored_definition(clean_db, GREET), "csrf": token}
    assert browser_client.post(f"/admin/automation/{GREET}", data=edit).status_code == 404
    switch = browser_client.post(f"/admin/automation/{GREET}/disable", data={"csrf": token})
    assert switch.status_code == 404
    assert _rule(clean_db, GREET).enabled is True


def test_every_form_needs_its_csrf_token(browser_client: httpx.Client, clean_db: Settings) -> None:
    seed_default_rules(clean_db)
    make_user(clean_db, ADMIN, Role.ADMIN)
    sign_in(browser_client, ADMIN)
    before = _stored_definition(clean_db, GREET)
    changed = json.loads(before) | {"name": "changed"}
    for data in ({}, {"csrf": "forged"}):
        switch = browser_client.post(f"/admin/automation/{GREET}/disable", data=data)
        assert switch.status_code == 403
        edit = browser_client.post(
            f"/admin/automation/{GREET}", data={**data, "definition": json.dumps(changed)}
        )
        assert edit.status_code == 403
    assert _rule(clean_db, GREET).enabled is True
    assert _stored_definition(clean_db, GREET) == before


def _store_raw(settings: Settings, key: str, stored: str) -> None:
    """Write a rule's stored definition as it is (an older version's, or a hand edit)."""

    async def work() -> None:
        db = open_database(settings)
        try:
            await db.start()
            async with db.session() as session:
                row = await session.scalar(select(AutomationRule).where(AutomationRule.key == key))
                assert row is not None
                row.definition = stored
                await session.commit()
        finally:
            await db.dispose()

    run_async(work)


def test_a_stored_rule_that_no_longer_validates_shows_as_invalid_never_500(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    seed_default_rules(clean_db)
    make_user(clean_db, ADMIN, Role.ADMIN)
    stored = json.dumps({"name": "ישן", "trigger": {"kind": "retired"}, "actions": []})
    _store_raw(clean_db, GREET, stored)
    sign_in(browser_client, ADMIN)

    listed = browser_client.get("/admin/automation")
    assert listed.status_code == 200
    row = _row(listed, GREET)
    assert "כלל לא תקין" in row and "הכלל הזה לא תקין ולא פועל:" in row
    assert "trigger.kind" in row
    page = browser_client.get(f"/admin/automation/{GREET}")
    assert page.status_code == 200 and "הכלל הזה לא תקין ולא פועל:" in page.text
    assert _textarea(page) == stored  # as stored, to be fixed

    rules = admin.get("/api/v1/automation/rules")
    assert rules.status_code == 200
    [shown] = [rule for rule in rules.json() if rule["key"] == GREET]
    assert shown["definition"] is None
    assert shown["invalid"].startswith("the rule is not valid: trigger.kind")
    one = admin.get(f"/api/v1/automation/rules/{GREET}")
    assert one.status_code == 200 and one.json()["definition"] is None
    off = admin.patch(f"/api/v1/automation/rules/{GREET}", json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False

    token = csrf_of(page)
    fixed = {"name": "ברכה", "trigger": {"kind": "first_message"}, "actions": [
        {"type": "send_template", "family": "welcome_new_lead"}
    ]}  # fmt: skip
    saved = browser_client.post(
        f"/admin/automation/{GREET}", data={"definition": json.dumps(fixed), "csrf": token}
    )
    assert saved.status_code == 200 and "הכלל נשמר." in saved.text
    assert _rule(clean_db, GREET).invalid is None


SEQUENCE = {
    "name": "רצף לבדיקה",
    "trigger": {"kind": "no_reply", "days": 3},
    "actions": [
        {"type": "notify_agent", "text": {"he": "הליד שותק", "en": "The lead is silent"}},
        {
            "type": "start_sequence",
            "steps": [
                {"after_days": 1, "text": {"he": "מה שלומך?", "en": "How are you?"}},
                {"after_days": 3.5, "family": "followup_interest"},
            ],
        },
    ],
}


def _enrol(settings: Settings, key: str, lead_id: str, *, stopped: str | None) -> None:
    """An enrolment of the lead in the rule's sequence, running or stopped."""

    async def work() -> None:
        db = open_database(settings)
        try:
            await db.start()
            async with db.session() as session:
                rule = await session.scalar(select(AutomationRule).where(AutomationRule.key == key))
                assert rule is not None
                start = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
                session.add(
                    SequenceEnrolment(
                        rule_id=rule.id,
                        lead_id=lead_id,
                        event=f"test:{uuid.uuid4()}",
                        stage="contacted",
                        next_step=1,
                        started_at=start,
                        due_at=None if stopped else start + timedelta(days=3.5),
                        stopped_at=start + timedelta(days=2) if stopped else None,
                        stopped_reason=stopped,
                    )
                )
                await session.commit()
        finally:
            await db.dispose()

    run_async(work)


def test_a_sequence_shows_its_steps_who_is_enrolled_and_why_each_stopped(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    make_user(clean_db, ADMIN, Role.ADMIN)
    lead_id = _lead(admin)
    _create(clean_db, "silence", SEQUENCE)
    _enrol(clean_db, "silence", lead_id, stopped=None)
    _enrol(clean_db, "silence", lead_id, stopped="answered")
    sign_in(browser_client, ADMIN)

    listed = browser_client.get("/admin/automation")
    row = _row(listed, "silence")
    assert "הליד לא ענה להודעה שלנו" in row and "במשך 3 ימים" in row
    assert 'התראה לסוכן (למנהלים, כשאין לליד סוכן): <bdi dir="auto">הליד שותק</bdi>' in row
    assert 'רצף מעקב, שלבים בימים: <bdi dir="ltr">1</bdi>, <bdi dir="ltr">3.5</bdi>' in row
    enrolled = listed.text.split("<h2>רצפי מעקב</h2>")[1].split("</table>")[0]
    assert enrolled.count('<tr class="enrolment') == 2
    assert "נעצר כי הליד ענה" in enrolled and "פעיל" in enrolled
    assert f'href="/leads/{lead_id}"' in enrolled and "1 / 2" in enrolled
    assert "05/07/2026 00:00" in enrolled  # the running one's next step, Jerusalem time

    page = browser_client.get("/admin/automation/silence")
    steps = page.text.split("<h2>שלבי הרצף</h2>")[1].split("</table>")[0]
    assert "<td>1</td>" in steps and "מה שלומך?" in steps
    assert "<td>3.5</td>" in steps and '<code dir="ltr">followup_interest</code>' in steps
    assert page.text.split("<h2>לידים ברצף</h2>")[1].count('<tr class="enrolment') == 2

    _choose_english(browser_client)
    english = browser_client.get("/admin/automation/silence")
    assert "How are you?" in english.text and "Stopped because the lead answered" in english.text
    _wholly(english, "en", ["רצף לבדיקה", "מה שלומך?", "הליד שותק"])  # the JSON holds them


# The same in a real browser (Debian's chromium driven by Playwright, as test_browser.py).


def test_an_admin_switches_a_rule_off_in_a_browser(
    browser: Any, server: Any, clean_db: Settings, tmp_path: Path
) -> None:
    seed_default_rules(clean_db)
    make_user(clean_db, ADMIN, Role.ADMIN)
    page = browser.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    try:
        page.goto(f"{server.url}/login")
        page.fill("input[name=email]", ADMIN)
        page.fill("input[name=password]", PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_url(f"{server.url}/")
        page.click("header >> text=אוטומציה")
        page.wait_for_url(f"{server.url}/admin/automation")
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        row = page.locator(f"#rule-{CONTACTED}")
        assert row.locator(".state").inner_text() == "פועל"
        row.locator("button", has_text="כיבוי").click()
        page.wait_for_load_state()
        row = page.locator(f"#rule-{CONTACTED}")
        row.locator("button", has_text="הפעלה").wait_for()
        assert row.locator(".state").inner_text() == "כבוי"
        assert page.locator(f"#rule-{GREET} .state").inner_text() == "פועל"
        page.screenshot(path=str(tmp_path / "automation.png"), full_page=True)
        page.click(f"#rule-{GREET} a[dir=auto]")
        page.wait_for_url(f"{server.url}/admin/automation/{GREET}")
        assert page.locator("textarea[name=definition]").evaluate("e => e.dir") == "ltr"
        page.screenshot(path=str(tmp_path / "rule.png"), full_page=True)
    finally:
        page.close()
    assert errors == []
    assert _rule(clean_db, CONTACTED).enabled is False
