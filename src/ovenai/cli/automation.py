"""`ovenai automation ...`: the rules that work the leads — list, show, switch, seed, log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ovenai import automation
from ovenai.auth import Actor
from ovenai.automation import sequences
from ovenai.automation.definitions import SEED_FILE
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.db import Database
from ovenai.pagination import Page

automation_app = typer.Typer(help="Automation rules: list, show, enable, disable, seed, log.")
app.add_typer(automation_app, name="automation")


def _trigger(record: automation.RuleRecord) -> str:
    if record.definition is None:
        return "INVALID"
    trigger = record.definition.trigger
    narrowed = [*trigger.intents, *trigger.keywords, *trigger.payloads, *trigger.sources]
    return trigger.kind + (f" ({', '.join(narrowed)})" if narrowed else "")


@automation_app.command("rules")
def rules() -> None:
    """List the rules in run order: key, on/off, trigger, done/skipped/failed, name."""

    async def work(db: Database) -> list[automation.RuleRecord]:
        return await automation.list_rules(db, actor=Actor.system())

    found = common.with_db(common.settings(), work)
    for record in found:
        state = "on " if record.enabled else "off"
        counts = f"{record.done}/{record.skipped}/{record.failed}"
        name = record.definition.name if record.definition else record.invalid
        typer.echo(f"{record.key:32} {state} {_trigger(record):40} {counts:>12}  {name}")
    if not found:
        typer.echo("no rules (ovenai automation seed adds the default ones)")


@automation_app.command("show")
def show(rule: Annotated[str, typer.Argument(help="The rule's key or id.")]) -> None:
    """Print one rule's definition (JSON, as the API takes it)."""

    async def work(db: Database) -> automation.RuleRecord:
        return await automation.get_rule(db, actor=Actor.system(), rule=rule)

    record = common.with_db(common.settings(), work)
    typer.echo(f"{record.key} ({'enabled' if record.enabled else 'disabled'}), id {record.id}")
    if record.definition is None:
        typer.echo(f"invalid: {record.invalid}")
        typer.echo(record.stored)
        return
    typer.echo(json.dumps(record.definition.model_dump(mode="json"), ensure_ascii=False, indent=2))


def _switch(rule: str, enabled: bool) -> None:
    async def work(db: Database) -> automation.RuleRecord:
        return await automation.update_rule(db, actor=Actor.system(), rule=rule, enabled=enabled)

    record = common.with_db(common.settings(), work)
    typer.echo(f"{record.key} {'enabled' if record.enabled else 'disabled'}")


@automation_app.command("enable")
def enable(rule: Annotated[str, typer.Argument(help="The rule's key or id.")]) -> None:
    """Switch a rule on."""
    _switch(rule, True)


@automation_app.command("disable")
def disable(rule: Annotated[str, typer.Argument(help="The rule's key or id.")]) -> None:
    """Switch a rule off (its log is kept)."""
    _switch(rule, False)


@automation_app.command("seed")
def seed(
    file: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="A YAML file of rules.")
    ] = SEED_FILE,
) -> None:
    """Add the rules of a YAML file whose key is not stored yet (default: the product's
    default rules; `ovenai db upgrade` runs this too). Stored rules are left as they are."""

    async def work(db: Database) -> automation.SeedReport:
        return await automation.seed_rules(db, file)

    report = common.with_db(common.settings(), work)
    typer.echo(f"added {len(report.added)} rules, kept {len(report.kept)}")
    for key in report.added:
        typer.echo(f"  added {key}")


@automation_app.command("log")
def log(
    rule: Annotated[str | None, typer.Option(help="Only this rule (key or id).")] = None,
    lead: Annotated[str | None, typer.Option(help="Only this lead (id).")] = None,
    outcome: Annotated[str | None, typer.Option(help="done, skipped or failed.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """What the rules did, newest first: time, rule, lead, outcome, detail."""
    query = automation.FiringQuery(rule=rule, lead_id=lead, outcome=outcome, limit=limit)

    async def work(db: Database) -> Page[automation.FiringRecord]:
        return await automation.list_firings(db, actor=Actor.system(), query=query)

    page = common.with_db(common.settings(), work)
    for item in page.items:
        when = item.at.isoformat(timespec="seconds")
        typer.echo(f"{when}  {item.rule_key}  {item.lead_id}  {item.outcome}  {item.detail}")
    if not page.items:
        typer.echo("nothing logged")


@automation_app.command("enrolments")
def enrolments(
    rule: Annotated[str | None, typer.Option(help="Only this rule's sequence (key or id).")] = None,
    lead: Annotated[str | None, typer.Option(help="Only this lead (id).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """Leads in follow-up sequences, newest first: started, rule, lead, steps done, next step
    due or why it stopped."""

    async def work(db: Database) -> list[sequences.EnrolmentRecord]:
        rule_id = None
        if rule is not None:
            rule_id = (await automation.get_rule(db, actor=Actor.system(), rule=rule)).id
        return await sequences.list_enrolments(db, lead_id=lead, rule_id=rule_id, limit=limit)

    found = common.with_db(common.settings(), work)
    for item in found:
        when = item.started_at.isoformat(timespec="seconds")
        if item.stopped_at is not None:
            state = f"stopped: {item.stopped_reason}"
        else:
            state = f"next due {item.due_at.isoformat(timespec='seconds') if item.due_at else '-'}"
        steps = f"{item.next_step}/{item.steps}"
        typer.echo(f"{when}  {item.rule_key}  {item.lead_id}  {steps}  {state}")
    if not found:
        typer.echo("no lead is in a sequence")
