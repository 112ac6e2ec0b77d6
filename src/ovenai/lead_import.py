"""Importing leads from a spreadsheet (CSV or XLSX, Hebrew or English headers and values).

1. Read the file (:mod:`ovenai.import_files`: encoding and separator detected, or XLSX).
2. Map each header to a lead field (Hebrew or English names; unknown columns are reported).
3. Read every row's cells as field values (:mod:`ovenai.import_values`: sources, stages,
   yes/no, amounts such as ``₪2,800,000`` or ``2.8M``, phones in any Israeli format) and
   validate them; a bad row is rejected with its row number, the column and the kind of
   value that was wrong (never a phone, name, e-mail or notes in full).
4. De-duplicate by phone: a number already stored (in any format) is that lead, and a number
   seen earlier in the file is the row imported before it.
5. A known lead is filled in, not overwritten (the re-import rule):

   - without ``overwrite`` only its *empty* fields are filled (so its stage and language,
     which always have a value, are never changed);
   - with ``overwrite`` the file's values replace the stored ones;
   - either way the stage, the assigned agent and the notes are never touched once a person
     changed them (an ``update`` of that field by a signed-in user in the audit log: the
     dashboard, the pipeline board or an API token), and the phone, the source and the
     marketing basis of a known lead are never changed by an import.

   The update locks the lead's row as every writer does (:func:`ovenai.leads.lock_unerased`):
   a lead whose erasure has begun is never written; its row is rejected with the reason.
   (Once the erasure is done its phone is no longer stored, so such a number imports as a
   new lead.) A user who is not an admin updates only the leads they may see.
6. Write everything in one transaction: a crash leaves nothing half-imported. A dry run
   writes nothing (not even data keys) and reports the same outcomes.

Rows are handled in batches of :data:`BATCH`: the batch's known phones are looked up in one
query and its new leads' data keys made in one key-store transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import audit, bulk_sql, consent, dialects, hooks, import_values, phones
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.errors import Gone, InvalidInput, OvenAIError
from ovenai.import_files import Sheet, read_sheet
from ovenai.import_problems import CellProblem, Kind, Problem, looks, shown
from ovenai.import_values import plain
from ovenai.keystore import Vault
from ovenai.lead_fields import LeadCreate, LeadUpdate
from ovenai.leads import (
    PhoneTaken,
    add_lead,
    apply_update,
    identity_columns,
    lock_unerased,
    name_token_rows,
)
from ovenai.models import AuditEntry, DoNotContact, Lead, LeadNameToken, Role, Source
from ovenai.sealing import LEADS, LeadColumn

BATCH = 500
HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "full_name", "שם", "שם מלא", "שם הלקוח", "שם לקוח", "לקוח"),
    "first_name": ("first name", "first_name", "שם פרטי"),
    "last_name": ("last name", "last_name", "surname", "שם משפחה"),
    "phone": (
        "phone",
        "mobile",
        "cell",
        "phone number",
        "telephone",
        "טלפון",
        "נייד",
        "טלפון נייד",
        "פלאפון",
        "סלולרי",
        "מספר טלפון",
        "מס טלפון",
    ),
    "email": ("email", "e-mail", "mail", "אימייל", "מייל", "דואל", 'דוא"ל', "דואר אלקטרוני"),
    "language": ("language", "lang", "שפה"),
    "source": ("source", "lead source", "מקור", "מקור הגעה", "מקור ליד", "מקור הליד"),
    "stage": ("stage", "status", "שלב", "סטטוס", "מצב"),
    "want_city": ("city", "want_city", "עיר", "ישוב", "יישוב"),
    "want_area": ("area", "neighborhood", "want_area", "אזור", "שכונה"),
    "want_rooms_min": ("rooms", "want_rooms_min", "חדרים", "מספר חדרים", "מס חדרים"),
    "want_rooms_max": ("want_rooms_max", "max rooms", "עד חדרים"),
    "want_size_min": ("size", "want_size_min", "גודל", 'מ"ר', "שטח"),
    "want_budget_min": ("want_budget_min", "min budget", "תקציב מינימלי", "תקציב מ"),
    "want_budget_max": ("budget", "want_budget_max", "max budget", "תקציב", "תקציב עד"),
    "notes": ("notes", "comments", "remarks", "הערות", "הערה"),
    "opted_in": ("opted_in", "opt in", "opt-in", "marketing", "מאשר דיוור", "הסכמה לדיוור"),
    # The lawful basis for marketing (opt_in, inquiry_30a) and the words the lead saw.
    "marketing_basis": ("marketing_basis", "basis", "בסיס שיווק"),
    "consent_words": ("consent_words", "consent words", "נוסח הסכמה"),
}
_LOOKUP = {plain(alias): name for name, aliases in HEADERS.items() for alias in aliases}
# Shown in a rejection by their kind only: personal data never goes to a log line.
PERSONAL = frozenset(
    {"name", "first_name", "last_name", "phone", "email", "notes", "consent_words"}
)
# Never changed on a known lead by an import (its identity, where it came from, its consent).
KEPT = frozenset({"phone", "source", "marketing_basis", "consent_words", "opted_in"})
# Never changed by an import once a person changed them (see the module docstring).
AGENTS_OWN = ("stage", "assigned_agent_id", "notes")
_SEALED: tuple[LeadColumn, ...] = ("name", "notes", "email")
_INDEXES = ("phone_index", "bsuid_index", "wa_id_index", "username_index", "email_index")
_LEADS = cast(Table, Lead.__table__)
_TOKENS = cast(Table, LeadNameToken.__table__)
_DO_NOT_CONTACT = cast(Table, DoNotContact.__table__)


class Outcome(StrEnum):
    """What an import did (or, in a dry run, would do) with one row."""

    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@dataclass(frozen=True)
class RowResult:
    """One row's fate: the fields it changed, or why it was rejected (no personal data)."""

    row: int
    outcome: Outcome
    fields: tuple[str, ...] = ()
    problem: Problem | None = None  # why it was rejected
    warnings: tuple[Problem, ...] = ()
    lead_id: str | None = None

    @property
    def reason(self) -> str | None:
        """Why it was rejected, in English."""
        return self.problem.english() if self.problem else None

    def line(self) -> str:
        """The row's line in a report: ``row 7: updated (email, want_budget_max)``."""
        text = f"row {self.row}: {self.outcome.value}"
        if self.reason:
            text += f": {self.reason}"
        elif self.fields and self.outcome is Outcome.UPDATED:
            text += f" ({', '.join(self.fields)})"
        for warning in self.warnings:
            text += f"; {warning.english()}"
        return text


@dataclass
class ImportReport:
    """What an import did: each row's outcome, counts, and how the file was read."""

    results: list[RowResult] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # header → lead field
    read_as: str = ""
    dry_run: bool = False

    def count(self, outcome: Outcome) -> int:
        """How many rows had this outcome."""
        return sum(1 for result in self.results if result.outcome is outcome)

    @property
    def imported(self) -> int:
        """New leads."""
        return self.count(Outcome.NEW)

    @property
    def updated(self) -> int:
        """Known leads changed."""
        return self.count(Outcome.UPDATED)

    @property
    def unchanged(self) -> int:
        """Known leads the file had nothing new for."""
        return self.count(Outcome.UNCHANGED)

    @property
    def rejected(self) -> list[tuple[int, str]]:
        """Each rejected row's number and reason."""
        return [
            (result.row, result.reason or "")
            for result in self.results
            if result.outcome is Outcome.REJECTED
        ]

    def summary(self) -> str:
        """One line of counts."""
        counts = f"unchanged {self.unchanged}, rejected {len(self.rejected)}"
        if self.dry_run:
            return f"would import {self.imported}, would update {self.updated}, {counts}"
        return f"imported {self.imported}, updated {self.updated}, {counts}"


def column_map(header: list[str]) -> tuple[dict[int, str], dict[str, str], list[str]]:
    """Each known column's position → field, header → field, and the ignored headers."""
    mapped: dict[int, str] = {}
    titles: dict[str, str] = {}
    ignored: list[str] = []
    for position, title in enumerate(header):
        name = _LOOKUP.get(plain(title.rstrip(":*")))
        if not title.strip():
            continue
        if name is None or name in mapped.values():
            ignored.append(title)
        else:
            mapped[position] = name
            titles[title] = name
    names = set(mapped.values())
    if "phone" not in names or not names & {"name", "first_name", "last_name"}:
        found = ", ".join(repr(t) for t in header[:6]) or "none"
        hint = ""
        if len(header) == 1:
            hint = " (only one column was found: separate the columns by , ; or tab)"
        raise InvalidInput(
            f"the file needs a name column and a phone column (שם, טלפון); its columns: {found}"
            + hint,
            field="file",
        )
    return mapped, titles, ignored


class _RowProblem(Exception):
    """A row's cells cannot make a lead: the problem, told without personal data."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.english())
        self.problem = problem


def _placed(problem: Problem, field: str, titles: dict[str, str], raw: str = "") -> Problem:
    """``problem`` in ``field``'s column; a personal value described, never shown."""
    column = next((title for title, name in titles.items() if name == field), None)
    if field in PERSONAL and raw and problem.looked is None:
        problem = replace(problem, looked=looks(raw))
    return problem.at(field, column)


def row_values(
    row: list[str], mapped: dict[int, str], width: int, titles: dict[str, str]
) -> tuple[dict[str, Any], list[Problem]]:
    """The lead fields of one row and its warnings; _RowProblem when a cell is wrong."""
    extra = [cell for cell in row[width:] if cell.strip()]
    if extra:
        raise _RowProblem(Problem.of(Kind.FIELD_COUNT, fields=len(row), header=width))
    raw = {name: row[pos].strip() for pos, name in mapped.items() if pos < len(row)}
    raw = {name: text for name, text in raw.items() if text}
    warnings: list[Problem] = []
    values: dict[str, Any] = {}
    for name, text in raw.items():
        try:
            _read_cell(name, text, values, warnings)
        except InvalidInput as exc:
            raise _RowProblem(_placed(_problem_of(exc), exc.field or name, titles, text)) from None
    if "name" not in values:
        parts = [values.pop(part) for part in ("first_name", "last_name") if part in values]
        if parts:
            values["name"] = " ".join(parts)
    values.pop("first_name", None)
    values.pop("last_name", None)
    values.setdefault("source", Source.IMPORT)
    if "phone" not in values:
        raise _RowProblem(_placed(Problem.of(Kind.REQUIRED), "phone", titles))
    if "name" not in values:
        raise _RowProblem(_placed(Problem.of(Kind.REQUIRED), "name", titles))
    return values, warnings


def _read_cell(name: str, text: str, values: dict[str, Any], warnings: list[Problem]) -> None:
    if name == "source":
        found = import_values.source(text)
        if found is None:
            warnings.append(Problem.of(Kind.UNKNOWN_SOURCE, "source", shown=shown(text)))
        values["source"] = found or Source.IMPORT
    elif name == "stage":
        values["stage"] = import_values.stage(text)
    elif name == "language":
        values["language"] = import_values.language(text)
    elif name == "opted_in":
        values["opted_in"] = import_values.yes_no(text, field=name)
    elif name in ("want_budget_min", "want_budget_max"):
        values[name] = import_values.amount(text, field=name)
    elif name == "want_size_min":
        values[name] = import_values.whole(text, field=name)
    elif name in ("want_rooms_min", "want_rooms_max"):
        low, high = import_values.rooms(text)
        if name == "want_rooms_max":
            values[name] = high or low
        else:
            values[name] = low
            if high is not None:
                values.setdefault("want_rooms_max", high)
    else:  # the phone too: LeadCreate normalises it (its refusal is reworded, unshown)
        values[name] = text


def _problem_of(exc: OvenAIError) -> Problem:
    """A refusal as a problem: a cell reader's own, else the service's words."""
    if isinstance(exc, CellProblem):
        return exc.problem
    return Problem.of(Kind.REFUSED, message=exc.message)


def _validation_problem(
    exc: ValidationError, values: dict[str, Any], titles: dict[str, str]
) -> Problem:
    error = exc.errors()[0]
    where = str(error["loc"][0]) if error["loc"] else "row"
    message = str(error["msg"]).removeprefix("Value error, ")
    raw = values.get(where)
    if where == "phone":
        problem = Problem.of(Kind.NOT_A_PHONE)
    elif where == "email":
        problem = Problem.of(Kind.NOT_AN_EMAIL)
    elif where in PERSONAL:
        problem = Problem.of(Kind.INVALID, message=message.split(" (", 1)[0])
    else:
        problem = Problem.of(Kind.INVALID, message=message)
    return _placed(problem, where, titles, str(raw) if raw is not None else "")


async def import_leads(
    db: Database,
    *,
    path: Path | None = None,
    data: bytes | None = None,
    filename: str | None = None,
    actor: Actor,
    greet: bool = False,
    dry_run: bool = False,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a spreadsheet (a ``path``, or its ``data`` and ``filename``) in one transaction
    and report each row's fate. With ``greet`` each new lead is announced to automation as one
    added through the API (the default rules then greet it), else imported leads are never
    messaged by themselves. ``dry_run``: nothing is written. ``overwrite``: see the module
    docstring. ``progress`` is called with the number of rows done after each batch."""
    if data is None:
        if path is None:
            raise InvalidInput("no file given", field="file")
        data = path.read_bytes()
    sheet = read_sheet(data, filename or (path.name if path else "the file"))
    return await import_sheet(
        db,
        sheet,
        actor=actor,
        greet=greet,
        dry_run=dry_run,
        overwrite=overwrite,
        progress=progress,
    )


def open_sheet(data: bytes, filename: str) -> Sheet:
    """The sheet of an uploaded file (for a preview): :func:`ovenai.import_files.read_sheet`."""
    return read_sheet(data, filename)


async def import_sheet(
    db: Database,
    sheet: Sheet,
    *,
    actor: Actor,
    greet: bool = False,
    dry_run: bool = False,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import an opened sheet (see :func:`import_leads`)."""
    mapped, titles, ignored = column_map(sheet.header)
    report = ImportReport(
        ignored_columns=ignored, columns=titles, read_as=sheet.describe(), dry_run=dry_run
    )
    run = _Run(db, actor, report, titles, greet=greet, dry_run=dry_run, overwrite=overwrite)
    width = len(sheet.header)
    async with db.session() as session:
        await dialects.plan_with_values(session)
        batch: list[tuple[int, dict[str, Any] | Problem, list[Problem]]] = []
        for number, row in sheet.rows:
            if not any(cell.strip() for cell in row):
                continue
            try:
                values, warnings = row_values(row, mapped, width, titles)
                batch.append((number, values, warnings))
            except _RowProblem as exc:
                batch.append((number, exc.problem, []))
            if len(batch) >= BATCH:
                await run.batch(session, batch)
                if progress:
                    progress(len(batch))
                batch = []
        if batch:
            await run.batch(session, batch)
            if progress:
                progress(len(batch))
        report.results.sort(key=lambda result: result.row)  # rejected early, written later
        if dry_run:
            await session.rollback()
        else:
            await session.commit()
    return report


@dataclass
class _Planned:
    """A lead an earlier row of a dry run would create: its values, for later rows."""

    row: int
    values: dict[str, Any]


class _Run:
    """One import's state across batches."""

    def __init__(
        self,
        db: Database,
        actor: Actor,
        report: ImportReport,
        titles: dict[str, str],
        *,
        greet: bool,
        dry_run: bool,
        overwrite: bool,
    ) -> None:
        self.db, self.vault, self.actor, self.report = db, db.vault, actor, report
        self.titles = titles
        self.greet, self.dry_run, self.overwrite = greet, dry_run, overwrite
        self.created: dict[str, str] = {}  # phone index → id of a lead this import made
        self.planned: dict[str, _Planned] = {}  # dry run: phone index → the row creating it

    async def batch(
        self, session: AsyncSession, rows: list[tuple[int, dict[str, Any] | Problem, list[Problem]]]
    ) -> None:
        """Validate, look up and write one batch of rows."""
        checked: list[_Checked] = []
        for number, values, warnings in rows:
            if isinstance(values, Problem):
                self._reject(number, values)
                continue
            try:
                data = LeadCreate(**values)
            except ValidationError as exc:
                self._reject(number, _validation_problem(exc, values, self.titles))
                continue
            given = {name: getattr(data, name) for name in values}
            index = self.vault.index("phone", data.phone)
            kind = phones.not_mobile(data.phone)
            if kind is not None:
                warnings.append(Problem.of(Kind.NOT_MOBILE, "phone", number=kind))
            checked.append(_Checked(number, data, given, index, tuple(warnings)))
        known = await self._known(session, [c.index for c in checked])
        keys = await self.vault.lead_keys([lead.id for lead in known.values()])
        owned = await _set_by_people(session, [lead.id for lead in known.values()])
        fresh: list[_Checked] = []  # new leads, written together at the batch's end
        for row in checked:
            lead = known.get(row.index)
            if lead is not None:
                await self._known_lead(session, row, lead, keys[lead.id], owned.get(lead.id, set()))
                continue
            if row.index in self.planned:
                self._again_planned(row)
                continue
            if self.created.get(row.index) == "":  # an earlier row of this batch: write it
                await self._create_all(session, fresh)
                fresh = []
            if row.index in self.created:
                await self._again(session, row)
            elif self.dry_run:
                self.planned[row.index] = _Planned(row.number, dict(row.given))
                self._done(row, RowResult(row.number, Outcome.NEW))
            else:
                self.created[row.index] = ""  # claimed: a later row updates its lead
                fresh.append(row)
        if fresh:
            await self._create_all(session, fresh)

    def _reject(self, number: int, problem: Problem) -> None:
        self.report.results.append(RowResult(number, Outcome.REJECTED, problem=problem))

    def _done(self, row: _Checked, result: RowResult) -> None:
        if row.warnings:
            result = replace(result, warnings=row.warnings)
        self.report.results.append(result)

    async def _guarded(
        self, session: AsyncSession, row: _Checked, work: Coroutine[Any, Any, RowResult]
    ) -> None:
        """One row's work in a savepoint: an error rejects the row and undoes only it."""
        try:
            async with session.begin_nested():
                result = await work
        except PhoneTaken as exc:  # its message shows the phone: this one does not
            problem = Problem.of(Kind.PHONE_TAKEN, lead=exc.lead_id)
            result = RowResult(row.number, Outcome.REJECTED, problem=problem)
        except _Erased as exc:
            result = RowResult(row.number, Outcome.REJECTED, problem=exc.problem)
        except OvenAIError as exc:
            problem = _problem_of(exc)
            if exc.field and exc.field != "phone":
                problem = _placed(problem, exc.field, self.titles)
            result = RowResult(row.number, Outcome.REJECTED, problem=problem)
        self._done(row, result)

    def _again_planned(self, row: _Checked) -> None:
        """A dry run's phone an earlier row had: that row's values stand for the lead."""
        planned = self.planned[row.index]
        changes = _changes(planned.values, row.given, set(), overwrite=self.overwrite)
        planned.values.update(changes)
        self._done(row, _updated(row.number, changes, None))

    async def _again(self, session: AsyncSession, row: _Checked) -> None:
        """A phone an earlier row of this file had: the lead that row made is updated."""
        lead = await session.get(Lead, self.created[row.index], populate_existing=True)
        if lead is None:
            raise AssertionError("a lead this import made is gone")
        await self._known_lead(session, row, lead, await self.vault.key("lead", lead.id), set())

    async def _known(self, session: AsyncSession, indexes: list[str]) -> dict[str, Lead]:
        wanted = [index for index in dict.fromkeys(indexes) if index not in self.created]
        found: dict[str, Lead] = {}
        query = select(Lead).where(
            dialects.one_of_parameter(
                _LEADS.c.phone_index, "indexes", postgresql=bulk_sql.postgresql(session)
            )
        )
        for start in range(0, len(wanted), BATCH):
            chunk = {"indexes": wanted[start : start + BATCH]}
            found_leads = await session.scalars(
                query.execution_options(populate_existing=True), chunk
            )
            for lead in found_leads:
                if lead.phone_index:
                    found[lead.phone_index] = lead
        return found

    async def _create_all(self, session: AsyncSession, rows: list[_Checked]) -> None:
        """New leads: many at once with a few statements, or one by one where a lead needs
        more than its row (greeting, consent, the do-not-contact list) or the batch clashed
        with a write made meanwhile."""
        listed = await _on_do_not_contact(session, [row.index for row in rows])
        one_by_one = [row for row in rows if self.greet or _consents(row) or row.index in listed]
        together = [row for row in rows if row not in one_by_one]
        if together:
            try:
                async with session.begin_nested():
                    await self._insert_many(session, together)
            except IntegrityError:
                one_by_one = together + one_by_one
            else:
                for row in together:
                    self._done(
                        row, RowResult(row.number, Outcome.NEW, lead_id=self.created[row.index])
                    )
        for row in sorted(one_by_one, key=lambda each: each.number):
            await self._guarded(session, row, self._create(session, row))
        for row in rows:
            if not self.created.get(row.index):
                self.created.pop(row.index, None)

    async def _insert_many(self, session: AsyncSession, rows: list[_Checked]) -> None:
        ids = {row.index: new_id() for row in rows}
        keys = await self.vault.new_lead_keys(ids.values())
        wa_ids = {row.index: phones.to_wa_id(row.data.phone) for row in rows}
        taken = await _wa_ids_held(session, self.vault, list(wa_ids.values()))
        now = utcnow()
        agent = self.actor.user_id if self.actor.role is Role.AGENT else None
        leads: list[dict[str, Any]] = []
        names: dict[str, str | None] = {}
        for row in rows:
            lead_id = ids[row.index]
            wa_id = wa_ids[row.index]
            sealed: dict[LeadColumn, str | None] = {
                "name": row.data.name,
                "phone": row.data.phone,
                "wa_id": None if wa_id in taken else wa_id,
                "notes": row.data.notes,
                "email": row.data.email,
            }
            values = dict.fromkeys(LEADS.stored.values()) | dict.fromkeys(_INDEXES)
            values |= row.data.plain_fields()
            values |= identity_columns(self.vault, lead_id, keys[lead_id], sealed)
            values |= {"id": lead_id, "created_at": now, "updated_at": now}
            if values["assigned_agent_id"] is None and agent:
                values["assigned_agent_id"] = agent
            leads.append(values)
            names[lead_id] = row.data.name
            taken.add(wa_id)  # a number twice in one batch: the first row's
        await session.execute(insert(_LEADS), leads)
        tokens = name_token_rows(self.vault, names)
        await bulk_sql.insert_many(session, _TOKENS, tokens, skip_taken=False)
        for row in rows:
            self.created[row.index] = ids[row.index]
            if self.actor.user_id:
                audit.record(
                    session,
                    actor=self.actor,
                    action="import",
                    subject_type="lead",
                    subject_id=ids[row.index],
                )

    async def _create(self, session: AsyncSession, row: _Checked) -> RowResult:
        lead = await add_lead(
            session,
            self.vault,
            actor=self.actor,
            data=row.data,
            consent_source=consent.Source.IMPORT,
        )
        self.created[row.index] = lead.id
        if self.actor.user_id:
            audit.record(
                session, actor=self.actor, action="import", subject_type="lead", subject_id=lead.id
            )
        if self.greet:
            await hooks.run_after_lead_created(session, lead)
        return RowResult(row.number, Outcome.NEW, lead_id=lead.id)

    async def _known_lead(
        self, session: AsyncSession, row: _Checked, lead: Lead, key: bytes, owned: set[str]
    ) -> None:
        """A row of a known lead: compared first; locked and written only when it changes."""
        problem = None
        if not self.actor.is_admin and lead.assigned_agent_id not in (None, self.actor.user_id):
            problem = Problem.of(Kind.NOT_YOURS)
        elif lead.erased_at is not None:
            problem = _Erased(lead.id).problem
        if problem is not None:
            self._done(row, RowResult(row.number, Outcome.REJECTED, problem=problem))
            return
        changes = _changes(_current(lead, key), row.given, owned, overwrite=self.overwrite)
        if not changes or self.dry_run:
            self._done(row, _updated(row.number, changes, lead.id))
            return
        await self._guarded(session, row, self._update(session, row, lead, key, owned))

    async def _update(
        self, session: AsyncSession, row: _Checked, lead: Lead, key: bytes, owned: set[str]
    ) -> RowResult:
        try:
            # Found before the lock: an erasure may have marked the lead since.
            await lock_unerased(session, lead.id)
        except Gone as exc:
            raise _Erased(lead.id) from exc
        await session.refresh(lead)  # as locked, not as found
        changes = _changes(_current(lead, key), row.given, owned, overwrite=self.overwrite)
        if changes:
            update = LeadUpdate(**changes)
            await apply_update(session, self.vault, actor=self.actor, lead=lead, changes=update)
            if self.actor.user_id:
                details: dict[str, object] = {"fields": sorted(changes)}
                audit.record(
                    session,
                    actor=self.actor,
                    action="import",
                    subject_type="lead",
                    subject_id=lead.id,
                    details=details,
                )
        return _updated(row.number, changes, lead.id)


@dataclass(frozen=True)
class _Checked:
    """A valid row: its lead, the fields it gave, its phone's blind index, its warnings."""

    number: int
    data: LeadCreate
    given: dict[str, Any]
    index: str
    warnings: tuple[Problem, ...]


def _consents(row: _Checked) -> bool:
    return bool(row.data.marketing_basis or row.data.opted_in)


def _current(lead: Lead, key: bytes) -> dict[str, Any]:
    """A known lead's fields an import may fill, decrypted."""
    cipher = LEADS.cipher(key, lead.id)
    values: dict[str, Any] = {
        name: cipher.open(name, getattr(lead, f"{name}_enc")) for name in _SEALED
    }
    for name in HEADERS:
        if name not in values and hasattr(lead, name):
            values[name] = getattr(lead, name)
    return values


async def _on_do_not_contact(session: AsyncSession, indexes: list[str]) -> set[str]:
    found: set[str] = set()
    postgresql = bulk_sql.postgresql(session)
    query = select(DoNotContact.phone_index).where(
        dialects.one_of_parameter(_DO_NOT_CONTACT.c.phone_index, "indexes", postgresql=postgresql)
    )
    for start in range(0, len(indexes), BATCH):
        found.update(await session.scalars(query, {"indexes": indexes[start : start + BATCH]}))
    return found


async def _wa_ids_held(session: AsyncSession, vault: Vault, wa_ids: list[str]) -> set[str]:
    """The wa_ids of a batch another lead holds already (theirs stays theirs)."""
    by_index = {vault.index("wa_id", wa_id): wa_id for wa_id in wa_ids}
    held: set[str] = set()
    indexes = list(by_index)
    postgresql = bulk_sql.postgresql(session)
    query = select(Lead.wa_id_index).where(
        dialects.one_of_parameter(_LEADS.c.wa_id_index, "indexes", postgresql=postgresql)
    )
    for start in range(0, len(indexes), BATCH):
        chunk = {"indexes": indexes[start : start + BATCH]}
        held.update(by_index[index] for index in await session.scalars(query, chunk) if index)
    return held


class _Erased(Gone):
    """The row's lead was erased (or is being erased): the row is not imported."""

    def __init__(self, lead_id: str) -> None:
        self.problem = Problem.of(Kind.ERASED, lead=lead_id)
        super().__init__(self.problem.english())


def _updated(number: int, changes: dict[str, Any], lead_id: str | None) -> RowResult:
    if not changes:
        return RowResult(number, Outcome.UNCHANGED, lead_id=lead_id)
    return RowResult(number, Outcome.UPDATED, tuple(sorted(changes)), lead_id=lead_id)


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _changes(
    current: dict[str, Any], given: dict[str, Any], owned: set[str], *, overwrite: bool
) -> dict[str, Any]:
    """The fields a row changes on a known lead (the re-import rule, module docstring)."""
    changes: dict[str, Any] = {}
    for name, value in given.items():
        if name in KEPT or value is None:
            continue
        before = current.get(name)
        if isinstance(before, Decimal) and isinstance(value, Decimal):
            same = before == value
        elif name == "email" and isinstance(before, str) and isinstance(value, str):
            same = before.casefold() == value.casefold()
        else:
            same = before == value or str(before) == str(value)
        if same or (name in AGENTS_OWN and name in owned):
            continue
        if overwrite or _empty(before):
            changes[name] = value
    low, high = (
        changes.get("want_rooms_min", current.get("want_rooms_min")),
        changes.get("want_rooms_max", current.get("want_rooms_max")),
    )
    if low is not None and high is not None and high < low:
        changes.pop("want_rooms_max", None)
        changes.pop("want_rooms_min", None)
    low, high = (
        changes.get("want_budget_min", current.get("want_budget_min")),
        changes.get("want_budget_max", current.get("want_budget_max")),
    )
    if low is not None and high is not None and high < low:
        changes.pop("want_budget_max", None)
        changes.pop("want_budget_min", None)
    return changes


async def _set_by_people(session: AsyncSession, lead_ids: list[str]) -> dict[str, set[str]]:
    """The fields of each lead a signed-in user changed (``update`` entries of the audit
    log), by lead id."""
    owned: dict[str, set[str]] = {}
    for start in range(0, len(lead_ids), BATCH):
        query = select(AuditEntry.subject_id, AuditEntry.details).where(
            AuditEntry.subject_id.in_(lead_ids[start : start + BATCH]),
            AuditEntry.subject_type == "lead",
            AuditEntry.action == "update",
            AuditEntry.actor_id.is_not(None),
        )
        for subject_id, details in await session.execute(query):
            if subject_id and details:
                owned.setdefault(subject_id, set()).update(_fields_of(details))
    return owned


def _fields_of(details: str) -> Iterable[str]:
    try:
        parsed = json.loads(details)
    except ValueError:
        return ()
    fields = parsed.get("fields") if isinstance(parsed, dict) else None
    return [str(name) for name in fields] if isinstance(fields, list) else ()
