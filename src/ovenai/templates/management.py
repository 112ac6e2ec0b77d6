"""Template management against Meta: sync, submit, and the WABA-to-WABA migration.

The migration of the seed's plan (test WABA → production WABA):

1. ``export`` writes the approved templates of the source WABA to a JSON file;
2. ``import_`` submits each to the target WABA (skipping those it already has) and
   records them PENDING;
3. Meta reviews them; ``sync`` (or the status webhook) then shows their status there.

Calls to Meta happen outside any database transaction; each outcome is recorded after.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovenai.cloudapi import CloudApiClient, Template
from ovenai.cloudapi.errors import PermanentError
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import ConfigurationError, InvalidInput
from ovenai.models import MessageTemplate
from ovenai.templates import rules
from ovenai.templates.registry import Definition, list_templates, merge, rows_of
from ovenai.templates.text import placeholders

FILE_FORMAT = "ovenai-templates/1"
CATEGORIES = rules.CATEGORIES
GONE = "DELETED"


@dataclass(frozen=True)
class SyncReport:
    """What a sync changed in the registry."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    gone: int = 0

    @property
    def total(self) -> int:
        """Templates Meta listed."""
        return self.added + self.updated + self.unchanged


@dataclass
class ImportReport:
    """What an import submitted, skipped (already in the target) and Meta refused."""

    submitted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def _from_meta(template: Template) -> Definition:
    return Definition(
        name=template.name,
        language=template.language,
        category=template.category.value,
        status=template.status.value,
        components=[dict(c) for c in template.components],
        parameter_format=(template.parameter_format or "POSITIONAL").upper(),
        meta_id=template.id or None,
        quality=template.quality,
    )


async def sync(db: Database, client: CloudApiClient, waba_id: str) -> SyncReport:
    """Pull every template of the WABA (all pages) into the registry.

    Status, category, quality and components follow Meta; rows Meta no longer lists become DELETED.
    """
    listed = [_from_meta(t) for t in await client.list_templates(waba_id=waba_id)]
    async with db.session() as session:
        rows = await rows_of(session, waba_id)
        outcomes = [merge(session, rows.get((d.name, d.language)), waba_id, d) for d in listed]
        seen = {(d.name, d.language) for d in listed}
        gone = [row for key, row in rows.items() if key not in seen and row.status != GONE]
        for row in gone:
            row.status = GONE
        await session.commit()
    return SyncReport(
        added=outcomes.count("added"),
        updated=outcomes.count("updated"),
        unchanged=outcomes.count("unchanged"),
        gone=len(gone),
    )


def _definition(row: MessageTemplate) -> dict[str, Any]:
    return {
        "name": row.name,
        "language": row.language,
        "category": row.category,
        "parameter_format": row.parameter_format.upper(),
        "components": row.components,
    }


async def export(db: Database, waba_id: str, path: Path, *, only_approved: bool = True) -> int:
    """Write the WABA's templates (approved ones by default) to a JSON file; returns how many."""
    rows = await list_templates(db, waba_id=waba_id)
    chosen = [r for r in rows if r.status == "APPROVED" or not only_approved and r.status != GONE]
    document = {
        "format": FILE_FORMAT,
        "waba_id": waba_id,
        "exported_at": utcnow().isoformat(),
        "templates": [_definition(row) for row in chosen],
    }
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return len(chosen)


def read_export(path: Path) -> list[Definition]:
    """The definitions of an export file; InvalidInput names the first bad entry."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path} is not a readable JSON file: {exc}", field="file") from None
    items = document.get("templates") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise InvalidInput(f"{path} has no 'templates' list", field="templates")
    found: dict[tuple[str, str], Definition] = {}
    for index, item in enumerate(items):
        definition = _entry(item, f"templates[{index}]")
        found.setdefault((definition.name, definition.language), definition)
    return list(found.values())


def _entry(item: Any, where: str) -> Definition:
    if not isinstance(item, dict):
        raise InvalidInput(f"{where} is not an object", field=where)
    for key in ("name", "language", "category", "components"):
        if not item.get(key):
            raise InvalidInput(f"{where}.{key} is missing", field=f"{where}.{key}")
    if not isinstance(item["components"], list):
        raise InvalidInput(f"{where}.components is not a list", field=f"{where}.components")
    return Definition.from_mapping(item, status="PENDING")


async def import_(db: Database, client: CloudApiClient, path: Path, waba_id: str) -> ImportReport:
    """Submit an export file's templates to the target WABA, skipping those it has.

    Each submission is recorded PENDING right after Meta accepts it, so an interrupted
    import can simply run again. Templates Meta refuses are reported, not fatal.
    """
    definitions = read_export(path)
    present = {(t.name, t.language) for t in await client.list_templates(waba_id=waba_id)}
    report = ImportReport()
    for definition in definitions:
        label = f"{definition.name} ({definition.language})"
        if (definition.name, definition.language) in present:
            report.skipped.append(label)
            continue
        try:
            check_definition(definition)
        except rules.TemplateRulesBroken as exc:
            broken = "; ".join(str(v) for v in exc.violations)
            report.refused.append((label, f"refused locally, Meta's rules: {broken}"))
            continue
        try:
            await _submit(db, client, waba_id, definition)
        except PermanentError as exc:
            report.refused.append((label, _meta_says(exc)))
            continue
        report.submitted.append(label)
    return report


def _meta_says(exc: PermanentError) -> str:
    details = exc.info.details or exc.info.user_message
    return f"{exc.message} ({details})" if details and details != exc.message else exc.message


async def _submit(
    db: Database, client: CloudApiClient, waba_id: str, definition: Definition
) -> MessageTemplate:
    """Create the template at Meta, then record Meta's answer in the registry."""
    created = await client.create_template(
        name=definition.name,
        language=definition.language,
        category=definition.category,
        components=definition.components,
        waba_id=waba_id,
        parameter_format=definition.parameter_format,
    )
    category = created.category.value if created.category.value != "UNKNOWN" else None
    recorded = Definition(
        name=definition.name,
        language=definition.language,
        category=category or definition.category,
        status=created.status.value,
        components=definition.components,
        parameter_format=definition.parameter_format,
        meta_id=created.id or None,
    )
    key = (definition.name, definition.language)
    async with db.session() as session:
        rows = await rows_of(session, waba_id)
        merge(session, rows.get(key), waba_id, recorded)
        await session.commit()
        return (await rows_of(session, waba_id))[key]


async def submit(
    db: Database,
    client: CloudApiClient,
    name: str,
    language: str,
    category: str,
    components: Sequence[Mapping[str, Any]],
    *,
    waba_id: str | None = None,
    parameter_format: str | None = None,
) -> MessageTemplate:
    """Submit a new template for review; it is recorded with Meta's answer (PENDING)."""
    target = waba_id or client.business_account_id
    if not target:
        raise ConfigurationError("WHATSAPP_BUSINESS_ACCOUNT_ID is not set")
    definition = Definition(
        name=name,
        language=language,
        category=category.upper(),
        status="PENDING",
        components=[dict(c) for c in components],
        parameter_format=(parameter_format or _format_of(components)).upper(),
    )
    check_definition(definition)
    return await _submit(db, client, target, definition)


def _format_of(components: Sequence[Mapping[str, Any]]) -> str:
    names = placeholders(components)
    return "POSITIONAL" if all(name.isdigit() for name in names) else "NAMED"


def check_definition(definition: Definition) -> None:
    """Refuse what Meta refuses on creation (:mod:`ovenai.templates.rules`), naming every
    broken rule at once (TemplateRulesBroken, an InvalidInput)."""
    rules.require_valid(
        definition.name,
        definition.language,
        definition.category,
        definition.components,
        parameter_format=definition.parameter_format,
    )


def build_components(
    body: str, *, header: str | None = None, footer: str | None = None, examples: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Components for a text template; Meta wants one example per body placeholder."""
    names = placeholders([{"type": "BODY", "text": body}])
    if len(examples) != len(names):
        raise InvalidInput(
            f"the body has {len(names)} placeholders; give as many examples, not {len(examples)}",
            field="example",
        )
    made: dict[str, Any] = {"type": "BODY", "text": body}
    if names and all(name.isdigit() for name in names):
        made["example"] = {"body_text": [list(examples)]}
    elif names:
        named = [{"param_name": n, "example": e} for n, e in zip(names, examples, strict=True)]
        made["example"] = {"body_text_named_params": named}
    parts = [{"type": "HEADER", "format": "TEXT", "text": header}] if header else []
    parts.append(made)
    if footer:
        parts.append({"type": "FOOTER", "text": footer})
    return parts
