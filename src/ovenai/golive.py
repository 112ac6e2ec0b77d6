"""Going live: is a production configuration ready for Meta, and the calls it may lack.

:func:`check` goes down the cut-over checklist, asking the Graph API what only it knows: the
access token is valid and has both WhatsApp permissions; the phone number belongs to the
business account, is registered with the Cloud API, its display name approved and its
quality rating not red; the app is subscribed to the account's webhooks; every seed
template is approved in this account. The configuration itself is checked as
``ovenai check-config`` checks it (production settings, a public HTTPS webhook URL, a live
Graph version). Each item says what was found and, when it fails, the command or step that
fixes it. :func:`subscribe` and :func:`register` make the two Graph calls a new account
lacks; :func:`smoke` sends one template to a test recipient and waits for Meta's statuses
to come back through the webhook, which proves the whole loop (docs/operations.md,
"Going live").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select

from ovenai import config_check, phones, templates
from ovenai.cloudapi import CloudApiClient, CloudApiFailure, client_from
from ovenai.db import Database
from ovenai.errors import CloudApiError, InvalidInput
from ovenai.models import StatusEvent
from ovenai.settings import Settings

GraphRefusal = CloudApiFailure
"""What Meta's refusal of a go-live call raises (for the command line, which does not
import the Cloud API client)."""
PERMISSIONS = ("whatsapp_business_messaging", "whatsapp_business_management")
WEBHOOK_PATH = "/api/webhooks/whatsapp"
SMOKE_TEMPLATE = "welcome_new_lead_he"
SMOKE_PARAMS = ("צוות OvenAI", "תל אביב")
_DELIVERED = ("delivered", "read")


class State(StrEnum):
    """How one item of the checklist stands."""

    OK = "ok"
    WARN = "warn"  # works, but a person should look
    FAIL = "fail"  # going live would fail here


@dataclass(frozen=True)
class Item:
    """One line of the checklist: what was checked, what was found, how to fix it."""

    name: str
    state: State
    detail: str
    fix: str | None = None


def _ok(name: str, detail: str) -> Item:
    return Item(name, State.OK, detail)


def _fail(name: str, detail: str, fix: str) -> Item:
    return Item(name, State.FAIL, detail, fix)


def ready(items: list[Item]) -> bool:
    """Whether nothing on the checklist fails."""
    return all(item.state is not State.FAIL for item in items)


def _configuration(settings: Settings) -> list[Item]:
    problems = config_check.production_problems(settings)
    if not problems:
        return [_ok("configuration", "production settings, nothing missing")]
    return [
        Item(
            f"configuration: {problem.setting}",
            State.WARN if problem.warning else State.FAIL,
            problem.message,
            "ovenai check-config",
        )
        for problem in problems
    ]


def _webhook(settings: Settings) -> Item:
    if not settings.public_url:
        return _fail(
            "webhook URL",
            "OVENAI_PUBLIC_URL is not set",
            f"set OVENAI_PUBLIC_URL, and give Meta the callback URL <it>{WEBHOOK_PATH}",
        )
    url = settings.public_url.rstrip("/") + WEBHOOK_PATH
    if not url.startswith("https://"):
        return _fail("webhook URL", f"{url} is not HTTPS", "serve it behind TLS (deploy/nginx)")
    return _ok("webhook URL", f"{url} (give Meta this callback URL)")


async def _token(client: CloudApiClient) -> list[Item]:
    try:
        who = await client.me()
        granted = set(await client.granted_permissions())
    except CloudApiFailure as exc:
        fix = "make a system user token with both WhatsApp permissions (WHATSAPP_ACCESS_TOKEN)"
        return [_fail("access token", f"refused by Meta: {exc.message}", fix)]
    items = [_ok("access token", f"valid, of {who.get('name') or who.get('id')}")]
    missing = [name for name in PERMISSIONS if name not in granted]
    if missing:
        fix = "grant them to the system user in Business Manager, then make a new token"
        items.append(_fail("permissions", f"missing: {', '.join(missing)}", fix))
    else:
        items.append(_ok("permissions", ", ".join(PERMISSIONS)))
    return items


async def _number(client: CloudApiClient, settings: Settings) -> list[Item]:
    waba, number_id = settings.whatsapp_business_account_id, settings.whatsapp_phone_number_id
    numbers = await client.phone_numbers()
    found = next((each for each in numbers if each.get("id") == number_id), None)
    if found is None:
        fix = "set WHATSAPP_PHONE_NUMBER_ID to one of the account's numbers"
        listed = ", ".join(str(each.get("id")) for each in numbers) or "none"
        return [_fail("phone number", f"{number_id} is not in account {waba} ({listed})", fix)]
    shown = f"{found.get('display_phone_number')} ({found.get('verified_name')})"
    items = [_ok("phone number", f"{shown} in account {waba}")]
    if found.get("platform_type") == "CLOUD_API" and found.get("status") == "CONNECTED":
        items.append(_ok("registration", "registered with the Cloud API, connected"))
    else:
        state = f"status {found.get('status')}, platform {found.get('platform_type')}"
        items.append(_fail("registration", state, "ovenai golive register --pin NNNNNN"))
    name_status = str(found.get("name_status") or "")
    if name_status == "APPROVED":
        items.append(_ok("display name", f"{found.get('verified_name')} approved"))
    else:
        fix = "wait for Meta's review of the display name, or correct it in WhatsApp Manager"
        items.append(Item("display name", State.WARN, f"review: {name_status or '?'}", fix))
    quality = str(found.get("quality_rating") or "UNKNOWN")
    if quality == "RED":
        fix = "find the templates leads block or report (WhatsApp Manager, Insights)"
        items.append(_fail("quality rating", "red: Meta may lower the messaging limit", fix))
    elif quality == "GREEN":
        items.append(_ok("quality rating", "green"))
    else:
        items.append(Item("quality rating", State.WARN, quality.lower(), None))
    return items


async def _subscription(client: CloudApiClient) -> Item:
    apps = await client.subscribed_apps()
    if not apps:
        return _fail("webhook subscription", "no app is subscribed", "ovenai golive subscribe")
    names = ", ".join(str(app.get("name") or app.get("id")) for app in apps)
    return _ok("webhook subscription", f"subscribed: {names}")


async def _templates(client: CloudApiClient) -> Item:
    wanted = [definition.name for definition in templates.seed_definitions()]
    status = {t.name: t.status for t in await client.list_templates()}
    missing = [name for name in wanted if name not in status]
    pending = [
        f"{name} ({status[name]})" for name in wanted if status.get(name, "APPROVED") != "APPROVED"
    ]
    if not missing and not pending:
        return _ok("templates", f"all {len(wanted)} seed templates approved")
    parts = ([f"missing: {', '.join(missing)}"] if missing else []) + (
        [f"not approved: {', '.join(pending)}"] if pending else []
    )
    fix = (
        "ovenai templates export FILE in the test account, then ovenai templates import FILE "
        "here; wait for Meta's review (ovenai templates sync)"
    )
    return _fail("templates", "; ".join(parts), fix)


@contextlib.asynccontextmanager
async def _client(
    settings: Settings, given: CloudApiClient | None
) -> AsyncIterator[CloudApiClient]:
    """The client given, else one of the configured number (closed after)."""
    if given is not None:
        yield given
        return
    async with client_from(settings) as made:
        yield made


async def check(settings: Settings, client: CloudApiClient | None = None) -> list[Item]:
    """The whole checklist, in the order a cut-over goes (``client``: the configured
    number's when not given)."""
    async with _client(settings, client) as graph:
        return await _checklist(settings, graph)


async def _checklist(settings: Settings, client: CloudApiClient) -> list[Item]:
    items = [*_configuration(settings), _webhook(settings)]
    items += await _token(client)
    if any(item.name == "access token" and item.state is State.FAIL for item in items):
        skipped = "not checked: Meta refused the token"
        for name in ("phone number", "webhook subscription", "templates"):
            items.append(_fail(name, skipped, "fix the access token first"))
        return items
    try:
        items += await _number(client, settings)
        items.append(await _subscription(client))
        items.append(await _templates(client))
    except CloudApiError as exc:
        items.append(_fail("Graph API", f"the check stopped: {exc}", "run it again"))
    return items


async def subscribe(settings: Settings, client: CloudApiClient | None = None) -> bool:
    """Subscribe the app to the business account's webhooks (``POST /{waba}/subscribed_apps``)."""
    async with _client(settings, client) as graph:
        return await graph.subscribe_app()


async def register(settings: Settings, pin: str, client: CloudApiClient | None = None) -> bool:
    """Register the number with the Cloud API (its six-digit two-step verification PIN)."""
    if not (len(pin) == 6 and pin.isdigit()):
        raise InvalidInput("the PIN is six digits (the number's two-step verification PIN)")
    async with _client(settings, client) as graph:
        return await graph.register_number(pin)


@dataclass
class SmokeReport:
    """What became of the smoke test's message: Meta's id and the statuses that came back."""

    wamid: str
    statuses: list[tuple[str, datetime, str | None]] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        """Whether Meta reported it delivered (or read) through the webhook."""
        return any(status in _DELIVERED for status, _, _ in self.statuses)

    @property
    def failed(self) -> bool:
        """Whether Meta reported it failed."""
        return any(status == "failed" for status, _, _ in self.statuses)


async def smoke(
    db: Database,
    settings: Settings,
    *,
    client: CloudApiClient | None = None,
    to: str,
    template: str = SMOKE_TEMPLATE,
    language: str = "he",
    params: tuple[str, ...] = SMOKE_PARAMS,
    wait_s: float = 120.0,
    poll_s: float = 0.5,
) -> SmokeReport:
    """Send one template to a test recipient and wait until its statuses, posted by Meta to
    the webhook and stored by ``serve``, say delivered (or failed, or ``wait_s`` passed)."""
    number = phones.normalize(to, field="to")
    async with _client(settings, client) as graph:
        sent = await graph.send_template(
            name=template, language=language, to=number, body_params=list(params)
        )
    report = SmokeReport(sent.message_id)
    deadline = time.monotonic() + wait_s
    while True:
        async with db.session() as session:
            rows = await session.execute(
                select(StatusEvent.status, StatusEvent.at, StatusEvent.error_title)
                .where(StatusEvent.wa_message_id == sent.message_id)
                .order_by(StatusEvent.at)
            )
            report.statuses = [(row.status, row.at, row.error_title) for row in rows]
        if report.delivered or report.failed or time.monotonic() >= deadline:
            return report
        await asyncio.sleep(poll_s)
