"""`ovenai templates ...`: the registry and Meta's copy of the WABA's templates.

The test → production migration: `export FILE` (with the test WABA's settings),
`import FILE` (with the production ones), then `sync` once Meta has reviewed them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ovenai import templates
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.cloudapi import client_from
from ovenai.db import Database
from ovenai.errors import ConfigurationError, InvalidInput
from ovenai.models import MessageTemplate
from ovenai.settings import Settings
from ovenai.templates import rules

templates_app = typer.Typer(help="Message templates: the registry and Meta's copy.")
app.add_typer(templates_app, name="templates")

WabaOption = Annotated[
    str | None, typer.Option("--waba-id", help="WABA id (default: WHATSAPP_BUSINESS_ACCOUNT_ID).")
]
COLUMNS = ("family", "name", "language", "category", "status", "quality", "waba")


def _waba(config: Settings, given: str | None) -> str:
    waba_id = given or config.whatsapp_business_account_id
    if not waba_id:
        raise common.fail(ConfigurationError("WHATSAPP_BUSINESS_ACCOUNT_ID is not set"))
    return waba_id


def _row(template: MessageTemplate) -> tuple[str, ...]:
    return (
        template.family,
        template.name,
        template.language,
        template.category,
        template.status,
        template.quality or "-",
        template.waba_id,
    )


@templates_app.command("list")
def list_(waba_id: WabaOption = None) -> None:
    """Show the registry's templates (every WABA unless --waba-id is given)."""

    async def work(db: Database) -> list[MessageTemplate]:
        return await templates.list_templates(db, waba_id=waba_id)

    rows = [COLUMNS] + [_row(t) for t in common.with_db(common.settings(), work)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        typer.echo("  ".join(cells).rstrip())


@templates_app.command("sync")
def sync(waba_id: WabaOption = None) -> None:
    """Pull every template of the WABA from Meta: status, category, components."""
    config = common.settings(graph=True)
    target = _waba(config, waba_id)

    async def work(db: Database) -> templates.SyncReport:
        async with client_from(config, waba_id=target) as client:
            return await templates.sync(db, client, target)

    report = common.with_db(config, work)
    typer.echo(
        f"synced {report.total} templates of WABA {target}: {report.added} added, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.gone} gone"
    )


@templates_app.command("export")
def export(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="JSON file to write.")],
    waba_id: WabaOption = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Also pending, rejected, paused ones.")
    ] = False,
) -> None:
    """Write the WABA's approved templates to a JSON file (run `sync` first)."""
    config = common.settings()
    source = _waba(config, waba_id)

    async def work(db: Database) -> int:
        return await templates.export(db, source, file, only_approved=not everything)

    count = common.with_db(config, work)
    typer.echo(f"exported {count} templates of WABA {source} to {file}")


@templates_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    waba_id: WabaOption = None,
) -> None:
    """Submit an export file's templates to the WABA for review (skipping existing ones)."""
    config = common.settings(graph=True)
    target = _waba(config, waba_id)

    async def work(db: Database) -> templates.ImportReport:
        async with client_from(config, waba_id=target) as client:
            return await templates.import_(db, client, file, target)

    report = common.with_db(config, work)
    typer.echo(
        f"submitted {len(report.submitted)}, skipped {len(report.skipped)} (already there), "
        f"refused {len(report.refused)} to WABA {target}"
    )
    for label, reason in report.refused:
        typer.echo(f"  refused {label}: {reason}")
    if report.submitted:
        typer.echo("run `ovenai templates sync` after Meta's review to see their status")
    if report.refused:
        raise typer.Exit(1)


@templates_app.command("submit")
def submit(
    name: Annotated[str, typer.Argument(help="Meta name, e.g. visit_confirmed_he.")],
    language: Annotated[str, typer.Option(help="Language code: he, en ...")],
    category: Annotated[str, typer.Option(help="MARKETING, UTILITY or AUTHENTICATION.")],
    body: Annotated[str, typer.Option(help="Body text with {{1}}, {{2}} ... placeholders.")],
    example: Annotated[
        list[str] | None, typer.Option(help="An example value per placeholder, in order.")
    ] = None,
    header: Annotated[str | None, typer.Option(help="Text header.")] = None,
    footer: Annotated[str | None, typer.Option(help="Footer text.")] = None,
    waba_id: WabaOption = None,
) -> None:
    """Submit a new text template to Meta for review; it is recorded PENDING."""
    config = common.settings(graph=True)
    target = _waba(config, waba_id)
    try:
        components = templates.build_components(
            body, header=header, footer=footer, examples=example or []
        )
    except InvalidInput as exc:
        raise common.fail(exc) from None
    _check_rules(name, language, category, components)

    async def work(db: Database) -> MessageTemplate:
        async with client_from(config, waba_id=target) as client:
            return await templates.submit(
                db, client, name, language, category, components, waba_id=target
            )

    made = common.with_db(config, work)
    typer.echo(f"submitted {made.name} ({made.language}) to WABA {target}: {made.status}")


def _check_rules(name: str, language: str, category: str, components: object) -> None:
    """Print every rule Meta would refuse the template for (then exit 65), and the hints."""
    found = rules.check_template(name, language, category.upper(), components)
    for hint in (v for v in found if not v.blocking):
        typer.echo(f"note: {name} ({language}): {hint}", err=True)
    broken = [v for v in found if v.blocking]
    if broken:
        typer.echo(
            f"error: {name} ({language}) would be refused by Meta, nothing was submitted:",
            err=True,
        )
        for violation in broken:
            typer.echo(f"  - {violation}", err=True)
        raise typer.Exit(InvalidInput.exit_code)


@templates_app.command("check")
def check(
    file: Annotated[
        Path | None,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="Export file (default: the seed)."
        ),
    ] = None,
) -> None:
    """Check templates against Meta's creation rules, offline: an export/import file, or
    the seed templates shipped with OvenAI. Exits 65 when any would be refused."""
    definitions = templates.read_export(file) if file else templates.seed_definitions()
    refused = 0
    for definition in definitions:
        found = rules.check_template(
            definition.name,
            definition.language,
            definition.category,
            definition.components,
            parameter_format=definition.parameter_format,
        )
        broken = [v for v in found if v.blocking]
        refused += bool(broken)
        label = f"{definition.name} ({definition.language})"
        typer.echo(f"{'REFUSED' if broken else 'ok':8} {label}")
        for violation in found:
            typer.echo(f"  {'-' if violation.blocking else 'note:'} {violation}")
    typer.echo(f"{len(definitions) - refused} of {len(definitions)} pass Meta's creation rules")
    if refused:
        raise typer.Exit(InvalidInput.exit_code)
