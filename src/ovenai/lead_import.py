"""Importing leads from a CSV file (Excel exports, Hebrew or English headers).

1. Decode as UTF-8 with or without a BOM; anything else is refused with a clear message.
2. Map each header to a lead field (Hebrew or English names; unknown columns are reported).
3. Validate every row; a bad row is rejected with its line number and reason.
4. De-duplicate by phone: a number already stored (in any format) updates that lead, and a
   number seen earlier in the file updates the row imported before it. The update locks the
   lead's row as every writer does (:func:`ovenai.leads.lock_unerased`): a lead whose erasure
   has begun is never written; its row is rejected with the reason. (Once the erasure is
   done its phone is no longer stored, so such a number imports as a new lead.)
5. Write everything in one transaction: a crash leaves nothing half-imported.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ovenai import consent, hooks
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.errors import Gone, InvalidInput, OvenAIError
from ovenai.lead_fields import LeadCreate, LeadUpdate
from ovenai.leads import add_lead, apply_update, find_by_identity, lock_unerased
from ovenai.models import Source

HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "full_name", "שם", "שם מלא", "שם הלקוח"),
    "phone": ("phone", "mobile", "phone number", "telephone", "טלפון", "נייד", "מספר טלפון"),
    "language": ("language", "lang", "שפה"),
    "source": ("source", "מקור", "מקור הגעה"),
    "stage": ("stage", "status", "שלב", "סטטוס"),
    "want_city": ("city", "want_city", "עיר"),
    "want_area": ("area", "neighborhood", "want_area", "אזור", "שכונה"),
    "want_rooms_min": ("rooms", "want_rooms_min", "חדרים", "מספר חדרים"),
    "want_budget_max": ("budget", "want_budget_max", "תקציב"),
    "notes": ("notes", "comments", "הערות"),
    # The lawful basis for marketing (opt_in, inquiry_30a) and the words the lead saw.
    "marketing_basis": ("marketing_basis", "basis", "בסיס שיווק"),
    "consent_words": ("consent_words", "consent words", "נוסח הסכמה"),
}
LANGUAGES = {"he": "he", "עברית": "he", "hebrew": "he", "en": "en", "אנגלית": "en", "english": "en"}


@dataclass
class ImportReport:
    """What an import did: counts and the reason for every rejected row."""

    imported: int = 0
    updated: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{path.name} is not UTF-8 (save it as CSV UTF-8)", field="file"
        ) from exc


def _column_map(header: list[str]) -> tuple[dict[int, str], list[str]]:
    lookup = {alias: name for name, aliases in HEADERS.items() for alias in aliases}
    mapped: dict[int, str] = {}
    ignored: list[str] = []
    for position, title in enumerate(header):
        name = lookup.get(title.strip().lower())
        if name is None or name in mapped.values():
            ignored.append(title)
        else:
            mapped[position] = name
    if "phone" not in mapped.values() or "name" not in mapped.values():
        raise InvalidInput("the file needs a name column and a phone column", field="file")
    return mapped, ignored


def _row_values(row: list[str], mapped: dict[int, str], width: int) -> dict[str, Any]:
    if len(row) != width:
        raise InvalidInput(f"the row has {len(row)} fields but the header has {width}")
    values = {name: row[pos].strip() for pos, name in mapped.items() if row[pos].strip()}
    if "language" in values:
        language = LANGUAGES.get(values["language"].lower())
        if language is None:
            raise InvalidInput(f"unknown language {values['language']!r}", field="language")
        values["language"] = language
    values.setdefault("source", Source.IMPORT)
    return values


def _reason(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}"


async def import_leads(
    db: Database, *, path: Path, actor: Actor, greet: bool = False
) -> ImportReport:
    """Import a CSV file of leads in one transaction and report each row's fate; with
    ``greet`` each new lead is announced to automation as one added through the API (the
    default rules then greet it), else imported leads are never messaged by themselves."""
    rows = list(csv.reader(io.StringIO(_read_text(path))))
    if not rows:
        raise InvalidInput(f"{path.name} is empty", field="file")
    mapped, ignored = _column_map(rows[0])
    report = ImportReport(ignored_columns=ignored)
    async with db.session() as session:
        for line, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            try:
                values = _row_values(row, mapped, len(rows[0]))
                async with session.begin_nested():
                    await _import_row(session, db, actor, values, report, greet=greet)
            except ValidationError as exc:
                report.rejected.append((line, _reason(exc)))
            except OvenAIError as exc:
                prefix = f"{exc.field}: " if exc.field else ""
                report.rejected.append((line, prefix + exc.message))
        await session.commit()
    return report


async def _import_row(
    session: Any,
    db: Database,
    actor: Actor,
    values: dict[str, Any],
    report: ImportReport,
    *,
    greet: bool,
) -> None:
    data = LeadCreate(**values)
    existing = await find_by_identity(session, db.vault, phone=data.phone)
    if existing is None:
        lead = await add_lead(
            session, db.vault, actor=actor, data=data, consent_source=consent.Source.IMPORT
        )
        if greet:
            await hooks.run_after_lead_created(session, lead)
        report.imported += 1
        return
    # A basis is vouched for when a lead is created; an existing lead's goes through
    # `ovenai leads consent` or the API, which record who changed it.
    kept = ("source", "phone", "marketing_basis", "consent_words")
    changes = LeadUpdate(**{k: v for k, v in values.items() if k not in kept})
    try:
        # Found before the lock: an erasure may have marked the lead since.
        await lock_unerased(session, existing.id)
    except Gone as exc:
        raise Gone(
            f"the lead with this phone ({existing.id}) was erased; the row was not imported"
        ) from exc
    await session.refresh(existing)  # as locked, not as found
    await apply_update(session, db.vault, actor=actor, lead=existing, changes=changes)
    report.updated += 1
