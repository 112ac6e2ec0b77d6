"""`ovenai demo reset`: the sandbox's demo agency back as new (ovenai.demo)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

from ovenai import demo
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.errors import ConfigurationError, ServiceUnavailable
from ovenai.settings import Settings

demo_app = typer.Typer(help="The sandbox's demo agency: listings, leads, viewings, scripted leads.")
app.add_typer(demo_app, name="demo")


def _control(config: Settings, path: str, body: dict[str, Any]) -> None:
    """One call to the running sandbox's simulator (its control API, /_sim/...)."""
    url = f"{config.whatsapp_api_base_url.rstrip('/')}/_sim/{path}"
    try:
        answer = httpx.post(url, json=body, timeout=10)
    except httpx.HTTPError as exc:
        problem = ServiceUnavailable(f"the sandbox's simulator did not answer at {url}: {exc}")
        raise common.fail(problem) from None
    if answer.status_code != 200:
        problem = ServiceUnavailable(f"the simulator refused {path}: {answer.text[:200]}")
        raise common.fail(problem)


def populate(
    config: Settings, delay: float = demo.DEFAULT_DELAY_S, *, empty: bool = True
) -> demo.DemoReport:
    """Tell the running sandbox's simulator who the demo leads are, reset the demo in the
    database (``empty``: emptying it first), and let some of them write in (``demo reset``,
    and `make run`'s first start, which empties nothing)."""
    _control(config, "personas", {"personas": demo.personas(delay), "replace": True})
    _control(config, "faults", {"unreachable": {"numbers": [demo.UNREACHABLE.wa_id]}})
    report = common.with_db(config, lambda db: demo.reset(db, config, empty=empty))
    for lead, text in demo.OPENERS:
        _control(config, "inbound", {"from": lead.wa_id, "name": lead.name, "text": text})
    return report


def ready_line(report: demo.DemoReport) -> str:
    """What to tell the person who asked for the demo."""
    return (
        f"demo ready: {report.listings} listings, {report.leads} leads, "
        f"{report.viewings} viewings; {len(demo.OPENERS)} leads are writing in now and "
        "every demo lead answers what you send it"
    )


@demo_app.command("reset")
def reset(
    delay: Annotated[
        float, typer.Option(min=0, max=600, help="Seconds a scripted lead takes to answer.")
    ] = demo.DEFAULT_DELAY_S,
) -> None:
    """Empty the sandbox's leads, conversations, viewings and listings and bring back the
    demo agency; its leads answer your messages by themselves. The sandbox must be
    running (`make run` in another terminal). Sandbox mode only."""
    config = common.settings(graph=True)
    if not config.sandbox:
        raise common.fail(ConfigurationError("the demo exists only in sandbox mode (`make run`)"))
    typer.echo(ready_line(populate(config, delay)))
