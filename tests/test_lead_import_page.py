"""The dashboard's lead import: upload, preview (first rows and problems), confirm; the file
kept sealed on the server until then, for its uploader only; in a real browser too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import PASSWORD, csrf_of, make_user, sign_in

AGENCY = Path(__file__).parent / "fixtures" / "imports" / "agency_windows1255_semicolon.csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def client(server: Any, clean_db: Settings) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Accept": "text/html"}, timeout=30) as http:
        yield http


def kept(settings: Settings) -> list[str]:
    folder = settings.data_dir / "lead_imports"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def upload(
    client: httpx.Client, data: bytes, name: str = "leads.csv", **form: str
) -> httpx.Response:
    token = csrf_of(client.get("/leads/import"))
    files = {"file": (name, data, "text/csv")}
    return client.post("/leads/import", data={"csrf": token, **form}, files=files)


def test_an_upload_is_previewed_kept_sealed_then_imported(
    client: httpx.Client, clean_db: Settings, admin: httpx.Client
) -> None:
    make_user(clean_db, "agent@agency.co.il", Role.AGENT)
    sign_in(client, "agent@agency.co.il")
    preview = upload(client, AGENCY.read_bytes(), "לידים.csv")

    assert preview.status_code == 200
    text = preview.text
    assert "CSV, Windows-1255, semicolon" in text
    assert re.search(r'class="count-new">6<', text) and re.search(
        r'class="count-rejected">4<', text
    )
    assert "דנה לוי" in text  # the first rows, as the file has them
    problems = _problems(text)  # in the agent's language, Hebrew by default
    assert "שורה 7: נדחתה; עמודה „טלפון”: מספר הטלפון אינו תקין (ערך של 5 ספרות)" in problems
    assert "שורה 8: נדחתה; עמודה „סטטוס”: שלב לא מוכר &#39;ממתין לאישור בנק&#39;" in text
    assert "שורה 9: נדחתה; עמודה „אימייל”: כתובת הדוא״ל אינה תקינה (טקסט של 7 תווים)" in problems
    assert "שורה 10: חדש; מקור לא מוכר 'ערוץ 2', נשמר כ„ייבוא”" in problems
    assert "שורה 11: נדחתה; עמודה „תקציב”: 'הרבה' אינו סכום" in text.replace("&#39;", "'")
    assert "לא-מייל" not in problems and "12345" not in problems  # personal values: described
    assert all(re.search("[a-z]{3}", line) is None for line in problems), problems
    assert admin.get("/api/v1/leads").json()["items"] == []  # nothing imported yet
    [blob, record] = kept(clean_db)
    assert record == blob + ".json"
    sealed = (clean_db.data_dir / "lead_imports" / blob).read_bytes()
    assert "דנה".encode("cp1255") not in sealed and b"050-234-5678" not in sealed

    upload_id = re.search(r'action="/leads/import/([0-9a-f-]{36})"', text)
    assert upload_id is not None
    done = client.post(f"/leads/import/{upload_id[1]}", data={"csrf": csrf_of(preview)})

    assert done.status_code == 200
    assert re.search(r'class="count-new">6<', done.text)
    assert kept(clean_db) == []
    leads = admin.get("/api/v1/leads", params={"email": "dana.levi@example.co.il"}).json()
    [dana] = leads["items"]
    assert (dana["name"], dana["email"], dana["want_budget_max"]) == (
        "דנה לוי",
        "Dana.Levi@example.co.il",
        2_800_000,
    )
    lead_page = client.get(f"/leads/{dana['id']}")  # the agent's own lead: they imported it
    assert '<span dir="ltr" class="lead-email">Dana.Levi@example.co.il</span>' in lead_page.text
    again = client.post(f"/leads/import/{upload_id[1]}", data={"csrf": csrf_of(preview)})
    assert again.status_code == 404


def _problems(page: str) -> list[str]:
    """The lines of the page's list of problems."""
    found = re.search(r'<ul class="import-problems"[^>]*>(.*?)</ul>', page, re.S)
    assert found is not None, "no list of problems"
    return re.findall(r"<li>(.*?)</li>", found[1].replace("&#39;", "'"))


def test_an_english_reader_reads_the_problems_in_english(
    client: httpx.Client, clean_db: Settings
) -> None:
    make_user(clean_db, "agent@agency.co.il", Role.AGENT)
    sign_in(client, "agent@agency.co.il")
    token = csrf_of(client.get("/leads/import"))
    client.post("/account/language", data={"language": "en", "csrf": token})
    sheet = "שם,טלפון,חדרים\nאבי,03-6123456,3\nדנה,0502345678,הרבה\n,0502345679,4\n"
    preview = upload(client, sheet.encode())
    upload_id = re.search(r'action="/leads/import/([0-9a-f-]{36})"', preview.text)
    assert upload_id is not None
    client.post(f"/leads/import/{upload_id[1]}/cancel", data={"csrf": csrf_of(preview)})
    assert _problems(preview.text) == [
        "row 2: new; this is a landline: WhatsApp may not reach it",
        "row 3: rejected; column “חדרים”: 'הרבה' is not a number of rooms (write 3.5 or 4-5)",
        "row 4: rejected; column “שם”: a name is required",
    ]


def test_only_the_uploader_may_confirm_and_cancel_drops_the_file(
    client: httpx.Client, clean_db: Settings, server: Any
) -> None:
    make_user(clean_db, "agent@agency.co.il", Role.AGENT)
    make_user(clean_db, "other@agency.co.il", Role.AGENT)
    sign_in(client, "agent@agency.co.il")
    preview = upload(client, "שם,טלפון\nאבי,0502345678\n".encode())
    upload_id = re.search(r'action="/leads/import/([0-9a-f-]{36})"', preview.text)
    assert upload_id is not None
    with httpx.Client(base_url=client.base_url, headers={"Accept": "text/html"}) as other:
        sign_in(other, "other@agency.co.il")
        token = csrf_of(other.get("/leads/import"))
        refused = other.post(f"/leads/import/{upload_id[1]}", data={"csrf": token})
        assert refused.status_code == 404
    cancelled = client.post(f"/leads/import/{upload_id[1]}/cancel", data={"csrf": csrf_of(preview)})
    assert cancelled.status_code in (200, 303)
    assert kept(clean_db) == []


def test_a_file_that_cannot_be_read_is_explained_on_the_form(
    client: httpx.Client, clean_db: Settings
) -> None:
    make_user(clean_db, "agent@agency.co.il", Role.AGENT)
    sign_in(client, "agent@agency.co.il")
    answer = upload(client, b"\xd0\xcf\x11\xe0" + bytes(64), "old.xls")
    assert answer.status_code == 422
    assert "old Excel (.xls) file" in answer.text
    no_columns = upload(client, "שם|טלפון\nאבי|0502345678\n".encode())
    assert no_columns.status_code == 422 and "only one column was found" in no_columns.text
    assert kept(clean_db) == []


def test_an_agent_imports_an_xlsx_file_in_the_browser_in_hebrew(
    browser: Any, server: Any, clean_db: Settings, tmp_path: Path, admin: httpx.Client
) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["שם", "טלפון", "אימייל", "מקור", "תקציב"])
    sheet.append(["יעל כהן", 509876543, "yael@example.com", "מדלן", "2.8 מיליון"])
    sheet.append(["בלי טלפון", None, None, "יד2", "1,000,000"])
    path = tmp_path / "לידים.xlsx"
    book.save(path)
    make_user(clean_db, "dana.agent@agency.co.il", Role.AGENT)
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{server.url}/login")
        page.fill("input[name=email]", "dana.agent@agency.co.il")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/")
        page.click("a[href='/leads/import']")
        page.wait_for_url(f"{server.url}/leads/import")
        assert page.locator("h1").inner_text() == "ייבוא לידים"
        page.set_input_files("input[name=file]", str(path))
        page.click("button[type=submit]:has-text('תצוגה מקדימה')")
        page.wait_for_selector("table.import-preview")
        assert "יעל כהן" in page.locator("table.import-preview").inner_text()
        assert page.locator(".count-new").inner_text() == "1"
        problems = page.locator(".import-problems").inner_text()
        assert "שורה 3: נדחתה; עמודה „טלפון”: חסר מספר טלפון" in problems
        page.screenshot(path=str(tmp_path / "preview.png"))
        page.click(".import-confirm button")
        page.wait_for_selector("[role=status]")
        assert page.locator(".count-new").inner_text() == "1"
    finally:
        page.close()
    assert errors == []
    [yael] = admin.get("/api/v1/leads").json()["items"]
    assert (yael["phone"], yael["source"], yael["want_budget_max"]) == (
        "+972509876543",
        "portal",
        2_800_000,
    )
