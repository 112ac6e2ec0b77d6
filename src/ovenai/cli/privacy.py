"""`ovenai privacy ...` and `ovenai retention ...`: data-subject requests and retention.

`export`, `erase` and `request` name the person by IDENTITY, a phone number unless `--by`
says it is a `bsuid`, `wa_id`, `username`, `email` or `lead_id`
(:func:`ovenai.privacy.find_subject`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ovenai import backups, media_store, privacy, privacy_export, retention
from ovenai.auth import Actor
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.db import Database

privacy_app = typer.Typer(help="Data-subject requests: export, erase, deadlines.")
retention_app = typer.Typer(help="Deleting what the retention policy no longer keeps.")
app.add_typer(privacy_app, name="privacy")
app.add_typer(retention_app, name="retention")
OPERATOR = Actor(user_id=None, role=Actor.system().role, email="cli")
Subject = Annotated[
    str,
    typer.Argument(metavar="IDENTITY", help="The person: a phone number, or what --by says it is."),
]
By = Annotated[
    privacy.IdentityKind,
    typer.Option("--by", help="What IDENTITY is: phone, bsuid, wa_id, username, email or lead_id."),
]


@privacy_app.command("export")
def privacy_export_command(
    identity: Subject,
    by: By = "phone",
    fmt: Annotated[
        str, typer.Option("--format", help="json or csv (a zip of CSV files).")
    ] = "json",
    output: Annotated[Path | None, typer.Option(help="File to write (default: stdout).")] = None,
) -> None:
    """Everything held about the person named."""

    async def work(db: Database) -> bytes:
        subject = privacy.identity_of(by, identity)
        files = media_store.open_store(config)  # the zip holds the files the person sent
        return await privacy_export.export(
            db, actor=OPERATOR, fmt=fmt, files=files, zone=config.zone, **subject
        )

    if output is None and fmt == "csv":
        common.refuse_binary_on_terminal("the CSV export (a zip file)")
    config = common.settings()
    data = common.with_db(config, work)
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
        typer.echo(f"wrote {output} ({len(data)} bytes)", err=True)


@privacy_app.command("erase")
def privacy_erase(
    identity: Subject,
    by: By = "phone",
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask to confirm.")] = False,
) -> None:
    """Erase the person named, irreversibly (crypto-shredding)."""
    if not yes and sys.stdin.isatty():
        question = f"Erase everything about the {by} {identity}? This cannot be undone"
        typer.confirm(question, abort=True)

    async def work(db: Database) -> privacy.ErasureReport:
        files = media_store.open_store(config)  # the files the person sent go too
        return await privacy.erase(
            db, actor=OPERATOR, files=files, **privacy.identity_of(by, identity)
        )

    config = common.settings()
    report = common.with_db(config, work)
    typer.echo(
        f"erased lead {report.lead_id}: {report.messages} messages, {report.meetings} meetings, "
        f"{report.consent_events} consent events, {report.webhook_bodies} webhook bodies "
        f"({report.rekeyed_hours} hours re-keyed)"
    )


@privacy_app.command("request")
def privacy_request(
    identity: Subject,
    by: By = "phone",
    kind: Annotated[str, typer.Option(help="access or erasure")] = "access",
) -> None:
    """Record a request received today; its 30-day deadline starts now."""

    async def work(db: Database) -> privacy.RequestRecord:
        subject = privacy.identity_of(by, identity)
        return await privacy.record_request(db, actor=OPERATOR, kind=kind, **subject)

    record = common.with_db(common.settings(), work)
    typer.echo(f"request {record.id} ({record.kind}) due {record.due_at:%Y-%m-%d}")


@privacy_app.command("requests")
def privacy_requests() -> None:
    """Every request with its deadline; open ones past it are marked OVERDUE."""

    async def work(db: Database) -> list[privacy.RequestRecord]:
        return await privacy.list_requests(db, actor=OPERATOR)

    for record in common.with_db(common.settings(), work):
        state = "done" if record.completed_at else ("OVERDUE" if record.overdue else "open")
        typer.echo(f"{record.id} {record.kind:8} due {record.due_at:%Y-%m-%d} {state}")


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count.")] = False,
) -> None:
    """Delete (or count) what the retention policy no longer keeps, by table."""
    config = common.settings()

    async def work(db: Database) -> dict[str, int]:
        policy = retention.Policy.from_settings(config)
        files = media_store.open_store(config)
        return await retention.run(db, policy=policy, dry_run=dry_run, files=files)

    counts = common.with_db(config, work)
    verb = "would delete" if dry_run else "deleted"
    for table, count in counts.items():
        typer.echo(f"{table}: {verb} {count}")


@privacy_app.command("replay-erasures")
def privacy_replay_erasures(
    journal: Annotated[
        Path | None,
        typer.Option(help="The erasure journal (default: OVENAI_ERASURE_JOURNAL's)."),
    ] = None,
) -> None:
    """After restoring a backup: erase again every lead the erasure journal names that the
    restored databases still hold (a restore never brings back who asked to be forgotten)."""

    async def work(db: Database) -> backups.ReplayReport:
        found = journal or db.erasure_journal
        assert found is not None  # open_database places the journal
        return await backups.replay_erasures(db, found, files=media_store.open_store(config))

    config = common.settings()
    report = common.with_db(config, work)
    typer.echo(f"erased again: {len(report.erased)}")
    for lead_id in report.erased:
        typer.echo(f"  {lead_id}")
    typer.echo(f"erased already: {len(report.already)}")
    typer.echo(f"not in these databases: {len(report.absent)}")
