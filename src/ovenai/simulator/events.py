"""Webhook envelopes, statuses and template events shaped like Meta's payload examples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ovenai.simulator.config import SimulatorConfig

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SentMessage:
    """What the status webhooks of an accepted send need to know."""

    wamid: str
    wa_id: str | None
    user_id: str | None
    category: str | None
    in_window: bool
    callback_data: str | None


def messages_envelope(
    settings: SimulatorConfig, value: JsonDict, field: str = "messages"
) -> JsonDict:
    """A ``messages``-field envelope around ``value`` (which gets product and metadata)."""
    metadata = {
        "display_phone_number": settings.display_phone_number,
        "phone_number_id": settings.phone_number_id,
    }
    full = {"messaging_product": "whatsapp", "metadata": metadata, **value}
    change = {"value": full, "field": field}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": settings.business_account_id, "changes": [change]}],
    }


def account_envelope(waba_id: str, now: float, field: str, value: JsonDict) -> JsonDict:
    """An envelope for WABA-level fields (template updates): ``entry.time`` is set."""
    change = {"value": value, "field": field}
    entry = {"id": waba_id, "time": int(now), "changes": [change]}
    return {"object": "whatsapp_business_account", "entry": [entry]}


def pricing(sent: SentMessage) -> JsonDict:
    """The ``pricing`` object: templates are billed, in-window service is free."""
    if sent.category is None:
        return {
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_customer_service",
            "category": "service",
        }
    free = sent.in_window and sent.category == "utility"
    return {
        "billable": not free,
        "pricing_model": "PMP",
        "type": "free_customer_service" if free else "regular",
        "category": sent.category,
    }


def status_object(
    sent: SentMessage, status: str, now: float, error: JsonDict | None = None
) -> JsonDict:
    """One ``statuses[]`` element (pricing on ``sent`` and ``delivered``, errors on failed)."""
    item: JsonDict = {"id": sent.wamid, "status": status, "timestamp": str(int(now))}
    if sent.wa_id:
        item["recipient_id"] = sent.wa_id
    if sent.user_id:
        item["recipient_user_id"] = sent.user_id
    if sent.callback_data is not None:
        item["biz_opaque_callback_data"] = sent.callback_data
    if status in ("sent", "delivered"):
        item["pricing"] = pricing(sent)
    if error is not None:
        item["errors"] = [error]
    return item


def template_status_value(template: Any, event: str) -> JsonDict:
    """The value of a ``message_template_status_update`` change."""
    value: JsonDict = {
        "event": event,
        "message_template_id": int(template.id),
        "message_template_name": template.name,
        "message_template_language": template.language,
        "reason": "NONE" if event != "REJECTED" else "INVALID_FORMAT",
        "message_template_category": template.category,
    }
    if event == "REJECTED":
        value["rejection_info"] = {
            "reason": "The template was rejected by the simulator's review rule.",
            "recommendation": "Rename the template or change its content.",
        }
    return value
