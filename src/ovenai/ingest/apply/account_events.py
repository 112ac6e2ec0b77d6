"""Template, account and out-of-band events: the template registry and the alerts.

Alerts carry no personal data: ids, field names, Meta's event names and error codes only.
Unreadable items are not applied here: their bodies record them (:mod:`ovenai.ingest.failures`).
"""

from __future__ import annotations

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import templates, webhook_probe
from ovenai.alerts import Said, raise_alert, resolve_alerts
from ovenai.events import (
    AccountEvent,
    PlatformErrorReport,
    TemplateCategoryUpdate,
    TemplateQualityUpdate,
    TemplateStatusUpdate,
    WebhookEvent,
)

# (field, event) pairs worth waking someone for; any other account event is informational.
CRITICAL_EVENTS = frozenset(
    {
        "ACCOUNT_DELETED",
        "ACCOUNT_VIOLATION",
        "ACCOUNT_RESTRICTION",
        "DISABLED_UPDATE",
        "ACCOUNT_OFFBOARDED",
        "PARTNER_REMOVED",
    }
)
WARNING_EVENTS = frozenset({"FLAGGED", "DOWNGRADE", "THROUGHPUT_UPGRADE", "ONBOARDING"})
QUIET_FIELDS = frozenset({"smb_message_echoes", "smb_app_state_sync", "history", "security"})
# Good news that ends earlier bad news of the same field: the number's quality restored
# (UNFLAGGED) or its limit raised again (UPGRADE), an account reinstated or reconnected.
ENDS: dict[str, tuple[str, ...]] = {
    "UNFLAGGED": ("FLAGGED",),
    "UPGRADE": ("DOWNGRADE",),
    "ACCOUNT_RECONNECTED": ("ACCOUNT_OFFBOARDED", "PARTNER_REMOVED"),
    "REINSTATE": ("DISABLED_UPDATE",),
}


async def apply_account_side(session: AsyncSession, event: WebhookEvent) -> bool:
    """Apply a template, account or out-of-band error event; False if it is not one of those."""
    if isinstance(event, TemplateStatusUpdate):
        await templates.apply_status_event(session, event)
    elif isinstance(event, TemplateQualityUpdate):
        await templates.apply_quality_event(session, event)
    elif isinstance(event, TemplateCategoryUpdate):
        await templates.apply_category_event(session, event)
    elif isinstance(event, AccountEvent):
        await _account(session, event)
    elif isinstance(event, PlatformErrorReport):
        await _platform_error(session, event)
    else:
        return False
    return True


async def _account(session: AsyncSession, event: AccountEvent) -> None:
    if event.field == webhook_probe.FIELD:
        await webhook_probe.record_seen(session, event.value_json)
        return
    if event.field in QUIET_FIELDS:
        return
    name = (event.event or "").upper()
    ended = ENDS.get(name, ()) or ENDS.get(_ban_state(event.value_json), ())
    for earlier in ended:
        await resolve_alerts(session, kind=f"{event.field}:{earlier}"[:64])
    severity = (
        "critical" if name in CRITICAL_EVENTS else "warning" if name in WARNING_EVENTS else "info"
    )
    detail = _summary(event.value_json)  # Meta's fields and words, as Meta wrote them
    what = name or "update"
    said = Said(
        f"WhatsApp {event.field} for WABA {event.waba_id}: {what}{detail}",
        f"עדכון WhatsApp ({event.field}) לחשבון העסקי {event.waba_id}: {what}{detail}",
    )
    await raise_alert(session, kind=f"{event.field}:{what}"[:64], severity=severity, said=said)


def _ban_state(value_json: str) -> str:
    """A ``DISABLED_UPDATE``'s ban state (``REINSTATE`` ends the ban's alert)."""
    try:
        value = orjson.loads(value_json)
    except orjson.JSONDecodeError:
        return ""
    ban = value.get("ban_info") if isinstance(value, dict) else None
    return str(ban.get("waba_ban_state") or "").upper() if isinstance(ban, dict) else ""


def _summary(value_json: str) -> str:
    """Meta's non-personal fields of an account event, for the alert text."""
    try:
        value = orjson.loads(value_json)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(value, dict):
        return ""
    keep = (
        *("display_phone_number", "current_limit", "max_daily_conversations_per_business"),
        *("decision", "alert_type", "violation_info", "restriction_info", "ban_info"),
    )
    shown = {k: value[k] for k in keep if k in value}
    return f" {orjson.dumps(shown).decode()}" if shown else ""


async def _platform_error(session: AsyncSession, event: PlatformErrorReport) -> None:
    error = event.error
    title = error.title or error.message or ""
    said = Said(
        f"WhatsApp reported error {error.code} ({title}) for number {event.phone_number_id}",
        f"WhatsApp דיווחה על שגיאה {error.code} ({title}) למספר {event.phone_number_id}",
    )
    await raise_alert(
        session, kind=f"whatsapp_error:{error.code}"[:64], severity="warning", said=said
    )
