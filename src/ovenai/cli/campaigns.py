"""`ovenai campaigns ...`: property-match campaigns — preview, start, pause, resume, cancel,
report, list. Leads are named by id only (no personal data on the terminal)."""

from __future__ import annotations

from typing import Annotated

import typer

from ovenai import campaigns
from ovenai.auth import Actor
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.db import Database

campaigns_app = typer.Typer(
    help="Property-match campaigns: preview, start, pause, resume, cancel, report, list."
)
app.add_typer(campaigns_app, name="campaigns")

PropertyArg = Annotated[str, typer.Argument(help="The listing's id.")]
CampaignArg = Annotated[str, typer.Argument(help="The campaign's id.")]


def _waba() -> str:
    return common.settings().whatsapp_business_account_id or ""


def _line(record: campaigns.CampaignRecord) -> str:
    started = record.started_at.isoformat(timespec="seconds") if record.started_at else "-"
    return f"{record.id}  {record.status:9} property {record.property_id}  started {started}"


@campaigns_app.command("preview")
def preview(property_id: PropertyArg) -> None:
    """Who a campaign of the listing would reach (and why), who not (and why)."""

    async def work(db: Database) -> campaigns.Preview:
        return await campaigns.preview(
            db, actor=Actor.system(), property_id=property_id, waba_id=_waba()
        )

    found = common.with_db(common.settings(), work)
    typer.echo(
        f"would send {found.template} to {len(found.recipients)} leads; "
        f"{len(found.excluded)} excluded; {found.not_matching} do not match"
    )
    for lead in found.recipients:
        why = "; ".join(map(campaigns.describe, lead.checks))
        typer.echo(f"send     {lead.lead_id} {lead.language}  {why}")
    for lead in found.excluded:
        typer.echo(f"excluded {lead.lead_id} {lead.language}  {lead.reason}: {lead.reason_text}")


@campaigns_app.command("start")
def start(
    property_id: PropertyArg,
    draft: Annotated[
        bool, typer.Option("--draft", help="Create the campaign without starting it.")
    ] = False,
) -> None:
    """Create a listing's campaign and start it (queue the template to each lead that may
    have it); with --draft only create it (start it later with `start-draft`)."""

    async def work(db: Database) -> campaigns.CampaignRecord:
        if draft:
            return await campaigns.create(db, actor=Actor.system(), property_id=property_id)
        return await campaigns.launch(
            db, actor=Actor.system(), property_id=property_id, waba_id=_waba()
        )

    typer.echo(_line(common.with_db(common.settings(), work)))


@campaigns_app.command("start-draft")
def start_draft(campaign_id: CampaignArg) -> None:
    """Start a draft campaign."""

    async def work(db: Database) -> campaigns.CampaignRecord:
        return await campaigns.start(
            db, actor=Actor.system(), campaign_id=campaign_id, waba_id=_waba()
        )

    typer.echo(_line(common.with_db(common.settings(), work)))


@campaigns_app.command("pause")
def pause(campaign_id: CampaignArg) -> None:
    """Hold a running campaign's unsent messages."""

    async def work(db: Database) -> campaigns.CampaignRecord:
        return await campaigns.pause(db, actor=Actor.system(), campaign_id=campaign_id)

    typer.echo(_line(common.with_db(common.settings(), work)))


@campaigns_app.command("resume")
def resume(campaign_id: CampaignArg) -> None:
    """Let a paused campaign's messages leave again."""

    async def work(db: Database) -> campaigns.CampaignRecord:
        return await campaigns.resume(db, actor=Actor.system(), campaign_id=campaign_id)

    typer.echo(_line(common.with_db(common.settings(), work)))


@campaigns_app.command("cancel")
def cancel(campaign_id: CampaignArg) -> None:
    """Cancel a campaign: its unsent messages fail as cancelled."""

    async def work(db: Database) -> campaigns.CampaignRecord:
        return await campaigns.cancel(db, actor=Actor.system(), campaign_id=campaign_id)

    typer.echo(_line(common.with_db(common.settings(), work)))


@campaigns_app.command("report")
def report(
    campaign_id: CampaignArg,
    totals_only: Annotated[
        bool, typer.Option("--totals", help="Print the totals only, not each recipient.")
    ] = False,
) -> None:
    """Each recipient's outcome (and our or Meta's reason), then the totals."""

    async def work(db: Database) -> campaigns.CampaignReport:
        return await campaigns.report(db, actor=Actor.system(), campaign_id=campaign_id)

    found = common.with_db(common.settings(), work)
    typer.echo(_line(found.campaign))
    if not totals_only:
        for line in found.lines:
            replied = " replied" if line.replied else ""
            reason = f"  {campaigns.reason_text(line.reason)}" if line.reason else ""
            typer.echo(f"{line.lead_id} {line.outcome:9}{replied}{reason}")
    totals = found.totals
    typer.echo(
        f"recipients {totals.recipients} = excluded {totals.excluded} + cancelled "
        f"{totals.cancelled} + queued {totals.queued} + sent {totals.sent} + delivered "
        f"{totals.delivered} + read {totals.read} + failed {totals.failed}; "
        f"replied {totals.replied}"
    )


@campaigns_app.command("list")
def list_() -> None:
    """Campaigns, newest first."""

    async def work(db: Database) -> list[campaigns.CampaignRecord]:
        return await campaigns.list_campaigns(db, actor=Actor.system())

    found = common.with_db(common.settings(), work)
    for record in found:
        typer.echo(_line(record))
    if not found:
        typer.echo("no campaigns")
