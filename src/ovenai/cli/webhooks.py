"""`ovenai webhooks ...`: drain stored webhook bodies, or replay them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import InvalidInput
from ovenai.ingest import backlog
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
    return f"processed {report.processed}, retrying {report.retried}, failed {report.failed}"


@webhooks_app.command("process")
def process() -> None:
    """Apply every pending stored body once, then exit."""

    async def work(db: Database) -> Report:
        return await Processor(db).drain()

    report = common.with_db(common.settings(), work)
    typer.echo(_describe(report))


@webhooks_app.command("replay")
def replay(
    since: Annotated[str, typer.Option(help="ISO 8601 time (UTC if no offset) or an age: 2h.")],
) -> None:
    """Re-apply stored bodies received since TIME (idempotent: nothing applies twice)."""
    try:
        moment = parse_since(since)
    except InvalidInput as exc:
        raise common.fail(exc) from None

    async def work(db: Database) -> tuple[int, Report]:
        async with db.session() as session:
            requeued = await backlog.requeue_since(session, moment)
            await session.commit()
        return requeued, await Processor(db).drain()

    requeued, report = common.with_db(common.settings(), work)
    typer.echo(f"replayed {requeued} bodies since {moment.isoformat()}: {_describe(report)}")
