"""The lead page's Documents section in a real browser: an agent ticks documents of the
agency's list (each box beside its name) and types one more, sends the request, and sees the
checklist."""

from __future__ import annotations

from typing import Any

import httpx

from ovenai import document_checklist
from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import make_user, sign_in_page
from support.templates import seed_templates

AGENT = "noa.documents@agency.co.il"


def test_an_agent_asks_for_documents_and_sees_the_checklist_in_the_browser(
    browser: Any, server: Any, admin: httpx.Client, clean_db: Settings
) -> None:
    seed_templates(clean_db)
    agent_id = make_user(clean_db, AGENT, Role.AGENT)
    body = {"name": "דנה לוי", "phone": "0501112299", "language": "he"}
    lead = admin.post("/api/v1/leads", json=body).json()["id"]
    assert admin.patch(f"/api/v1/leads/{lead}", json={"assigned_agent_id": agent_id}).is_success
    choices = document_checklist.items(clean_db.documents_he)
    page = browser.new_page()
    try:
        sign_in_page(page, server.url, AGENT)
        page.goto(f"{server.url}/leads/{lead}")
        section = page.locator("section#documents")
        assert "עדיין לא התבקשו מסמכים" in section.inner_text()
        # Each box beside its document's name, on its line (before the name: right, in Hebrew).
        for choice in choices:
            box = page.locator(f"form.documents-request input[value='{choice}']").bounding_box()
            name = page.locator("form.documents-request label span", has_text=choice)
            words = name.bounding_box()
            assert box is not None and words is not None
            assert abs((box["y"] + box["height"] / 2) - (words["y"] + words["height"] / 2)) < 4
            gap = box["x"] - (words["x"] + words["width"])
            assert 0 <= gap < 16, (choice, box, words)
        page.check(f"form.documents-request input[value='{choices[0]}']")
        page.check(f"form.documents-request input[value='{choices[2]}']")
        page.fill("form.documents-request input[name=other]", "חוזה חתום")
        page.click("form.documents-request button[type=submit]")
        page.wait_for_url(f"{server.url}/leads/{lead}#documents")
        rows = section.locator("tr.document-missing").all_inner_texts()
        assert [row.split("\t")[0].strip() for row in rows] == [choices[0], choices[2], "חוזה חתום"]
        assert "התקבלו 0 מתוך 3" in section.inner_text()
    finally:
        page.close()
    messages = admin.get(f"/api/v1/leads/{lead}/messages").json()
    assert [m["template"] for m in messages] == ["document_request_he"]
    assert f"{choices[0]}, {choices[2]} וחוזה חתום" in messages[0]["text"]
