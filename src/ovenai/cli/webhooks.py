"""`ovenai webhooks ...`: drain stored webhook bodies, replay them, list what failed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from ovenai.auth import Actor
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import InvalidInput
from ovenai.ingest import backlog, failures
from ovenai.ingest.processor import Processor, Report

webhooks_app = typer.Typer(help="Stored WhatsApp webhook bodies.")
app.add_typer(webhooks_app, name="webhooks")

_RELATIVE = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str) -> datetime:
    """An ISO 8601 time (naive = UTC) or an age such as ``90m``, ``2h``, ``7d``."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        amount, unit = relative.groups()
        return utcnow() - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        message = f"{text!r} is not a time (ISO 8601) or an age (2h)"
        raise InvalidInput(message, field="since") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _describe(report: Report) -> str:
    text = f"processed {report.processed}, retrying {report.retried}, failed {report.failed}"
    return f"{text}, {report.unreadable} unreadable items" if report.unreadable else text


def _since(text: str | None) -> datetime | None:
    """``--since`` read, or one line naming what is wrong."""
    try:
        return None if text is None else parse_since(text)
    except InvalidInput as exc:
        raise common.fail(exc) from None


SinceOption = Annotated[
    str | None, typer.Option(help="ISO 8601 time (UTC if no offset) or an age: 2h.")
]


@webhooks_app.command("process")
def process() -> None:
    """Apply every pending stored body once, then exit."""

    async def work(db: Database) -> Report:
        return await Processor(db).drain()

    report = common.with_db(common.settings(), work)
    typer.echo(_describe(report))


@webhooks_app.command("replay")
def replay(
    since: SinceOption = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Only failed bodies and bodies with failed items.")
    ] = False,
) -> None:
    """Re-apply stored bodies received since TIME, or the failed ones (idempotent: nothing
    applies twice)."""
    moment = _since(since)
    if failed:
        _replay_failed(moment)
        return
    if moment is None:
        raise common.fail(InvalidInput("give --since TIME, --failed, or both", field="since"))

    async def work(db: Database) -> tuple[int, Report]:
        async with db.session() as session:
            requeued = await backlog.requeue_since(session, moment)
            await session.commit()
        return requeued, await Processor(db).drain()

    requeued, report = common.with_db(common.settings(), work)
    typer.echo(f"replayed {requeued} bodies since {moment.isoformat()}: {_describe(report)}")


def _replay_failed(since: datetime | None) -> None:
    """Re-queue the failed bodies and those with failed items, drain, say what is left."""

    async def work(db: Database) -> tuple[failures.Requeued, Report, failures.Standing]:
        async with db.session() as session:
            requeued = await failures.requeue_failed(session, since)
            await session.commit()
        report = await Processor(db).drain()
        async with db.session() as session:
            return requeued, report, await failures.standing(session)

    requeued, report, left = common.with_db(common.settings(), work)
    scope = f" since {since.isoformat()}" if since else ""
    typer.echo(
        f"replayed {requeued.failed} failed bodies and {requeued.with_failed_items} with "
        f"failed items{scope}: {_describe(report)}; still failing: "
        f"{left.failed_bodies} bodies, {left.failed_items} items"
    )


@webhooks_app.command("failed")
def list_failed(
    since: SinceOption = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many bodies.")] = 200,
) -> None:
    """List failed bodies and bodies with failed items, newest first: a line per body (received
    time, id, status, error), then a line per failed item (item, field, path, problem)."""
    moment = _since(since)

    async def work(db: Database) -> list[failures.FailedBody]:
        return await failures.failed_bodies(db, actor=Actor.system(), since=moment, limit=limit)

    found = common.with_db(common.settings(), work)
    for body in found:
        typer.echo(_body_line(body))
        for item in body.items:
            problem = " ".join(item.problem.splitlines())  # one line per item, always
            typer.echo(f"  {item.item}  {item.field or '-'}  {item.path}  {problem}")
    if not found:
        typer.echo("no failed bodies and no failed items")


def _body_line(body: failures.FailedBody) -> str:
    line = f"{body.received_at.isoformat()}  {body.id}  {body.status}"
    return f"{line}  {body.error}" if body.error else line
