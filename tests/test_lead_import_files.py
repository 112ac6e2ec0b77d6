"""Importing real agencies' spreadsheets: Windows-1255 with semicolons, UTF-8 with a BOM,
XLSX, UTF-16 with tabs; Hebrew headers and values, amounts as people write them, bad rows."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from ovenai import import_values, lead_import
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.errors import InvalidInput
from ovenai.import_files import read_sheet
from ovenai.lead_fields import LeadFilter
from ovenai.leads import LeadRecord, list_leads

pytestmark = pytest.mark.anyio
SYSTEM = Actor.system()
FIXTURES = Path(__file__).parent / "fixtures" / "imports"
AGENCY = FIXTURES / "agency_windows1255_semicolon.csv"
PORTAL = FIXTURES / "portal_utf8_bom.csv"


async def by_name(db: Database) -> dict[str, LeadRecord]:
    page = await list_leads(db, actor=SYSTEM, filters=LeadFilter(limit=100))
    return {lead.name or "": lead for lead in page.items}


async def test_a_windows1255_semicolon_file_with_hebrew_values_is_imported(db: Database) -> None:
    report = await lead_import.import_leads(db, path=AGENCY, actor=SYSTEM)

    assert report.read_as == "CSV, Windows-1255, semicolon"
    assert (report.imported, report.updated, report.unchanged) == (6, 0, 0)
    assert [row for row, _ in report.rejected] == [7, 8, 9, 11]
    reasons = dict(report.rejected)
    assert reasons[7] == "column 'טלפון' (phone): not a valid phone number (a value of 5 digits)"
    assert reasons[8].startswith("column 'סטטוס' (stage): unknown stage 'ממתין לאישור בנק'")
    assert reasons[9].startswith("column 'אימייל' (email): is not an e-mail address")
    assert "לא-מייל" not in reasons[9]  # personal values are described, not shown
    assert reasons[11].startswith("column 'תקציב' (want_budget_max): 'הרבה' is not an amount")
    [warned] = [r for r in report.results if r.warnings]
    assert warned.row == 10
    assert [w.english() for w in warned.warnings] == ["unknown source 'ערוץ 2' kept as import"]

    leads = await by_name(db)
    dana, yossi, michal = leads["דנה לוי"], leads["יוסי כהן"], leads["מיכל אברהם"]
    assert (dana.phone, dana.email, dana.source) == (
        "+972502345678",
        "Dana.Levi@example.co.il",
        "portal",
    )
    assert (dana.want_budget_max, dana.want_rooms_min, dana.stage) == (
        2_800_000,
        Decimal("3.5"),
        "new",
    )
    assert (yossi.want_rooms_min, yossi.want_rooms_max) == (Decimal(4), Decimal(5))
    assert (yossi.want_budget_max, yossi.stage) == (1_950_000, "contacted")
    assert (michal.want_budget_max, michal.source, michal.stage) == (
        2_800_000,
        "ad_referral",
        "viewing_scheduled",
    )
    assert leads["אבי מזרחי"].want_budget_max == 950_000
    assert leads["אבי מזרחי"].phone == "+972584567890"
    assert (leads["רונית פרץ"].source, leads["רונית פרץ"].want_budget_max) == ("manual", 3_200_000)
    assert leads["ליאת חדד"].source == "import"
    assert "שגיא בן דוד" not in leads and "גיל ברק" not in leads


async def test_a_utf8_bom_file_with_english_values_is_imported(db: Database) -> None:
    report = await lead_import.import_leads(db, path=PORTAL, actor=SYSTEM)
    assert (report.imported, report.rejected, report.read_as) == (3, [], "CSV, UTF-8 (BOM), comma")
    leads = await by_name(db)
    assert (leads["Dana Levi"].source, leads["Dana Levi"].want_budget_max) == ("portal", 2_900_000)
    assert (leads["Gil Katz"].source, leads["Gil Katz"].want_budget_max) == ("web_form", 2_500_000)
    assert (leads["Tamar Oz"].stage, leads["Tamar Oz"].want_budget_max) == ("won", 3_100_000)


def xlsx(tmp_path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    path = tmp_path / "leads.xlsx"
    book.save(path)
    return path


async def test_an_xlsx_file_with_numbers_as_excel_stores_them_is_imported(
    db: Database, tmp_path: Path
) -> None:
    path = xlsx(
        tmp_path,
        [
            ["שם פרטי", "שם משפחה", "נייד", "מייל", "מקור", "תקציב", "חדרים", "מאשר דיוור"],
            ["דנה", "לוי", 502345678, "dana@example.com", "יד2", 2800000.0, 3.5, "כן"],
            ["יוסי", "כהן", 972523456789, None, "הומלס", "2.8M", 4, "לא"],
            [None, None, None, None, None, None, None, None],
            ["רוני", "אבן", "0501", None, "מדלן", 1500000, 3, "אולי"],
        ],
    )
    report = await lead_import.import_leads(db, path=path, actor=SYSTEM)
    assert (report.imported, report.read_as) == (2, "XLSX (first sheet)")
    assert [row for row, _ in report.rejected] == [5]
    leads = await by_name(db)
    dana = leads["דנה לוי"]
    assert (dana.phone, dana.email, dana.want_budget_max) == (
        "+972502345678",
        "dana@example.com",
        2_800_000,
    )
    assert dana.opted_in_at is not None and leads["יוסי כהן"].opted_in_at is None
    assert leads["יוסי כהן"].phone == "+972523456789"


async def test_a_utf16_tab_file_as_excel_saves_unicode_text_is_imported(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "leads.txt"
    path.write_bytes("שם\tטלפון\tתקציב\r\nאבי\t050-234-5678\t2,800,000\r\n".encode("utf-16"))
    report = await lead_import.import_leads(db, path=path, actor=SYSTEM)
    assert (report.imported, report.read_as) == (1, "CSV, UTF-16, tab")
    assert (await by_name(db))["אבי"].want_budget_max == 2_800_000


def test_excels_sep_line_sets_the_separator() -> None:
    sheet = read_sheet("sep=;\nשם;טלפון\nאבי;0502345678\n".encode(), "a.csv")
    assert (sheet.delimiter, sheet.header) == (";", ["שם", "טלפון"])


def test_a_file_whose_columns_cannot_be_told_apart_says_so() -> None:
    sheet = read_sheet("שם|טלפון\nאבי|0502345678\n".encode(), "a.csv")
    with pytest.raises(InvalidInput, match="only one column was found"):
        lead_import.column_map(sheet.header)


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "leads.xls", "old Excel"),
        (b"PK\x03\x04 not really a zip", "leads.xlsx", "not a readable .xlsx"),
        (b"\x81\x8d\x8e\x8f\x90" * 20, "leads.csv", "neither UTF-8 nor Windows-1255"),
        (b"  \n", "leads.csv", "is empty"),
    ],
)
def test_unreadable_files_are_refused_with_what_to_do(data: bytes, name: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        read_sheet(data, name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2800000", 2_800_000),
        ("2,800,000", 2_800_000),
        ("₪2,800,000", 2_800_000),
        ("2,800,000 ₪", 2_800_000),
        ('2,800,000 ש"ח', 2_800_000),
        ("2.8M", 2_800_000),
        ("2.8m", 2_800_000),
        ("2,8M", 2_800_000),
        ("2.8 מיליון", 2_800_000),
        ("2.8 מליון", 2_800_000),
        ("950K", 950_000),
        ("950 אלף", 950_000),
        ("2.800.000", 2_800_000),
        ("1,500K", 1_500_000),
        ("\u200f2,800,000\u200f", 2_800_000),
        ("2800000.0", 2_800_000),
    ],
)
def test_amounts_are_read_as_people_write_them(text: str, expected: int) -> None:
    assert import_values.amount(text, field="want_budget_max") == expected


@pytest.mark.parametrize("text", ["הרבה", "2,80,000", "2.8X", "", "M"])
def test_what_is_not_an_amount_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        import_values.amount(text, field="want_budget_max")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("יד2", "portal"),
        ("יד 2", "portal"),
        ("Yad2", "portal"),
        ("מדלן", "portal"),
        ("פייסבוק", "ad_referral"),
        ("Facebook", "ad_referral"),
        ("אתר", "web_form"),
        ("הפניה", "manual"),
        ("וואטסאפ", "whatsapp"),
        ("web_form", "web_form"),
        ("ערוץ 2", None),
    ],
)
def test_sources_in_hebrew_and_english(text: str, expected: str | None) -> None:
    assert import_values.source(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("חדש", "new"),
        ("נוצר קשר", "contacted"),
        ("נקבעה צפייה", "viewing_scheduled"),
        ("בוצעה צפייה", "viewing_done"),
        ('מו"מ', "negotiation"),
        ("משא ומתן", "negotiation"),
        ("חוזה", "contract"),
        ("נסגר", "won"),
        ("לא רלוונטי", "lost"),
        ("Viewing Scheduled", "viewing_scheduled"),
        ("viewing_done", "viewing_done"),
    ],
)
def test_stages_in_hebrew_and_english(text: str, expected: str) -> None:
    assert import_values.stage(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("כן", True), ("לא", False), ("Yes", True), ("no", False), ("1", True), ("✓", True)],
)
def test_yes_and_no(text: str, expected: bool) -> None:
    assert import_values.yes_no(text, field="opted_in") is expected


def test_rooms_one_number_or_a_range() -> None:
    assert import_values.rooms("3,5 חדרים") == (Decimal("3.5"), None)
    assert import_values.rooms("4-5") == (Decimal(4), Decimal(5))
