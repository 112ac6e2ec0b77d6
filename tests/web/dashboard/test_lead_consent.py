"""The lead page's consent section (lead_consent.html): whether marketing may go, the basis and
the ledger with the lead's own words; the composer refuses marketing without a basis, saying
why. (A typed "הסר" end to end: tests/automation/test_consent_keywords.py.)"""

from __future__ import annotations

import html
import re

import httpx
import pytest

from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import csrf_of, make_user, sign_in
from support.templates import seed_templates

AGENT = "yael.agent@agency.co.il"
NOTICE = "נשמח לשלוח לך נכסים דומים; להסרה השיבו הסר"


@pytest.fixture
def yael(browser_client: httpx.Client, clean_db: Settings) -> tuple[httpx.Client, str]:
    """The agent, signed in; and her id."""
    agent_id = make_user(clean_db, AGENT, Role.AGENT)
    assert sign_in(browser_client, AGENT).status_code == 303
    return browser_client, agent_id


def _lead(admin: httpx.Client, phone: str, agent_id: str, **fields: object) -> str:
    body = {"name": "נועה", "phone": phone, "assigned_agent_id": agent_id, **fields}
    answer = admin.post("/api/v1/leads", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _consent_section(page: httpx.Response) -> str:
    match = re.search(
        r'<section class="lead-consent" id="consent">(.*?)</section>', page.text, re.S
    )
    assert match, "no consent section"
    return html.unescape(match.group(1))


def test_the_page_shows_the_basis_and_then_an_opt_out_with_its_words(
    yael: tuple[httpx.Client, str], admin: httpx.Client
) -> None:
    browser, agent_id = yael
    lead = _lead(admin, "0501113344", agent_id, marketing_basis="inquiry_30a", consent_words=NOTICE)
    shown = _consent_section(browser.get(f"/leads/{lead}"))
    assert "מותר" in shown and "פנייה שנאמר בה שאפשר לסרב (סעיף 30א)" in shown
    assert NOTICE in shown

    said = "אמרה בטלפון: הסר אותי"
    body = {"action": "opt_out", "words": said}
    assert admin.post(f"/api/v1/leads/{lead}/consent", json=body).status_code == 200
    shown = _consent_section(browser.get(f"/leads/{lead}"))
    assert "ביקש להפסיק מאז" in shown and "רק הודעות שירות" in shown
    assert "ממשק התכנות" in shown and f'<q dir="auto">{said}</q>' in shown
    assert "admin@example.co.il" in shown


def test_the_composer_refuses_marketing_to_a_lead_without_a_basis_saying_why(
    yael: tuple[httpx.Client, str], admin: httpx.Client, clean_db: Settings
) -> None:
    browser, agent_id = yael
    seed_templates(clean_db)
    lead = _lead(admin, "0501113345", agent_id)
    page = browser.get(f"/leads/{lead}", params={"family": "property_details"})
    assert "לא נרשם בסיס: רק הודעות שירות" in _consent_section(page)
    form = {
        "csrf": csrf_of(page),
        "key": re.search(r'name="key" value="([^"]+)"', page.text).group(1),  # type: ignore[union-attr]
        "family": "property_details",
        "params": ["נועה", "חיפה", "4", "95", "₪2,450,000"],
        "action": "send",
    }
    refused = browser.post(f"/leads/{lead}/template", data=form)
    assert refused.status_code == 409
    assert "לא נרשם לליד בסיס לשיווק" in html.unescape(refused.text)
