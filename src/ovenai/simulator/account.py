"""The business account as Meta's management endpoints show it, for going live.

``GET /me`` and ``GET /me/permissions`` (the token: whose it is, what it was granted),
``GET /{waba-id}/phone_numbers`` (the number: its display number, verified name and its
review, quality rating, whether it is registered with the Cloud API),
``GET·POST /{waba-id}/subscribed_apps`` (whether the app gets the account's webhooks; a POST
subscribes it) and ``POST /{phone-number-id}/register`` (registers the number with its
six-digit two-step verification PIN). What a fresh account lacks is set by the simulator's
configuration (``registered``, ``app_subscribed``, ``permissions``, ``quality_rating``,
``name_status``), so one simulator can play the test account and another a production
account before its go-live.
"""

from __future__ import annotations

import re
from typing import Any

from ovenai.simulator.edges import unsupported
from ovenai.simulator.meta_errors import MetaError, invalid
from ovenai.simulator.state import SimulatorState

JsonDict = dict[str, Any]
EDGES = frozenset({"permissions", "phone_numbers", "subscribed_apps", "register"})
SYSTEM_USER = {"id": "122100000000001", "name": "OvenAI system user"}
APP = {"id": "1000000000000001", "name": "OvenAI", "link": "https://example.invalid/ovenai"}
_PIN = re.compile(r"^\d{6}$")


def me() -> JsonDict:
    """``GET /me``: the token's user."""
    return dict(SYSTEM_USER)


def answer(state: SimulatorState, method: str, node: str, edge: str, body: Any) -> JsonDict:
    """One management call (see the module's doc), or MetaError like Meta's."""
    settings = state.settings
    if edge == "permissions" and node == "me" and method == "GET":
        return {"data": [{"permission": p, "status": "granted"} for p in settings.permissions]}
    if edge == "phone_numbers" and method == "GET":
        mine = node == settings.business_account_id
        return {"data": [_number(state)] if mine else []}
    if edge == "subscribed_apps" and node == settings.business_account_id:
        if method == "POST":
            settings.app_subscribed = True
            state.count("apps_subscribed")
            return {"success": True}
        if method == "GET":
            apps = [{"whatsapp_business_api_data": dict(APP)}] if settings.app_subscribed else []
            return {"data": apps}
    if edge == "register" and node == settings.phone_number_id and method == "POST":
        return _register(state, body)
    raise unsupported(method, node)


def _number(state: SimulatorState) -> JsonDict:
    settings = state.settings
    return {
        "id": settings.phone_number_id,
        "display_phone_number": settings.display_phone_number,
        "verified_name": settings.verified_name,
        "name_status": settings.name_status,
        "quality_rating": settings.quality_rating,
        "code_verification_status": "VERIFIED",
        "platform_type": "CLOUD_API" if settings.registered else "NOT_APPLICABLE",
        "status": "CONNECTED" if settings.registered else "PENDING",
    }


def _register(state: SimulatorState, body: Any) -> JsonDict:
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        raise invalid("The parameter messaging_product is required and must be 'whatsapp'.")
    if not _PIN.match(str(body.get("pin", ""))):
        raise MetaError(100, "The parameter pin must be a 6-digit number.")
    state.settings.registered = True
    state.count("numbers_registered")
    return {"success": True}
