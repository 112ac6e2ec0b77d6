"""Actions of the control API (``/_sim/...``): inbound messages, faults, config, reviews."""

from __future__ import annotations

from typing import Any

import orjson

from ovenai.simulator import personas
from ovenai.simulator.config import LIVE_SETTINGS
from ovenai.simulator.events import account_envelope, messages_envelope, template_status_value
from ovenai.simulator.inbound import (
    MEDIA_TYPES,
    contact,
    message_object,
    preferences_value,
    sender_ids,
)
from ovenai.simulator.meta_errors import invalid
from ovenai.simulator.state import SimulatorState
from ovenai.simulator.templates import StoredTemplate

JsonDict = dict[str, Any]


async def deliver_inbound(state: SimulatorState, request: JsonDict) -> JsonDict:
    """Build the webhook Meta would send for a user's message, deliver it, report."""
    wamid, now = state.new_wamid(), state.now()
    kind = str(request.get("type", "text"))
    if kind in MEDIA_TYPES and not isinstance(request.get(kind), dict):
        request = state.media.add_for_request(kind, request, MEDIA_TYPES[kind])
    if request.get("type") == "user_preferences":
        envelope = _preferences(state, request, now)
    else:
        envelope = _message(state, request, wamid, now)
    state.inbound.append({"id": wamid, "request": request})
    state.count("inbound")
    task = state.dispatcher.send(envelope, "inbound")
    answer: JsonDict = {"message_id": wamid, "webhook": envelope}
    if request.get("wait", True):
        answer["delivery"] = (await task).summary()
    return answer


def _message(state: SimulatorState, request: JsonDict, wamid: str, now: float) -> JsonDict:
    message = message_object(request, wamid, now, state.settings.display_phone_number)
    wa_id, user_id = sender_ids(request)
    value: JsonDict = {"messages": [message]}
    if message["type"] != "system":
        value = {"contacts": [contact(request, wa_id, user_id)], **value}
        state.open_window(wa_id, user_id)
    return messages_envelope(state.settings, value)


def _preferences(state: SimulatorState, request: JsonDict, now: float) -> JsonDict:
    value = preferences_value(request, now)
    ids = {key for key in sender_ids(request) if key}
    if value["user_preferences"][0]["value"] == "stop":
        state.stopped |= ids
    else:
        state.stopped -= ids
    return messages_envelope(state.settings, value, field="user_preferences")


def set_personas(state: SimulatorState, spec: JsonDict) -> JsonDict:
    """Add or replace scripted users (``{"personas": [...]}``); ``"replace": true`` forgets
    the others first."""
    found = personas.parse(spec)
    if spec.get("replace"):
        state.personas.clear()
    for persona in found:
        state.personas[persona.wa_id] = persona
    return list_personas(state)


def list_personas(state: SimulatorState) -> JsonDict:
    """The scripted users and how far into their lines each is."""
    return {"personas": [persona.summary() for persona in state.personas.values()]}


def apply_faults(state: SimulatorState, spec: JsonDict) -> JsonDict:
    """Merge a faults body; throughput and status settings go to the live settings."""
    state.faults.apply(spec)
    settings: JsonDict = {
        key: spec[key] for key in ("mps_cap", "status_sample_rate") if key in spec
    }
    if "statuses" in spec:
        settings["statuses"] = spec["statuses"] in (True, "on")
    return apply_config(state, settings)


def apply_config(state: SimulatorState, spec: JsonDict) -> JsonDict:
    """Change live settings (``webhook_url``, ``mps_cap``, delays ...); answer them all."""
    unknown = set(spec) - LIVE_SETTINGS
    if unknown:
        raise invalid(f"Unknown settings {sorted(unknown)}; allowed: {sorted(LIVE_SETTINGS)}")
    for key, value in spec.items():
        setattr(state.settings, key, tuple(value) if key == "status_delays" else value)
    return live_settings(state)


def live_settings(state: SimulatorState) -> JsonDict:
    """The settings the control API may change, with their current values."""
    return {key: getattr(state.settings, key) for key in sorted(LIVE_SETTINGS)}


def review(state: SimulatorState, template: StoredTemplate, status: str | None = None) -> str:
    """Decide a pending template (rule: names with "reject" are rejected) and notify."""
    rejected = "reject" in template.name or template.name in state.faults.reject_templates
    decided = status or ("REJECTED" if rejected else "APPROVED")
    template.status = decided
    value = template_status_value(template, decided)
    field = "message_template_status_update"
    state.dispatcher.send(account_envelope(template.waba_id, state.now(), field, value), field)
    state.count(f"template_{decided.lower()}")
    return decided


def review_now(state: SimulatorState, spec: JsonDict) -> JsonDict:
    """Decide pending templates at once (``waba_id``, ``name`` and ``status`` optional)."""
    pending = state.templates.pending(spec.get("waba_id"), spec.get("name"))
    decided = {f"{t.name}:{t.language}": review(state, t, spec.get("status")) for t in pending}
    return {"reviewed": decided}


def outbox(state: SimulatorState) -> JsonDict:
    """Accepted sends in order, rejected ones, and mark-read calls."""
    return {
        "messages": [_parsed(record) for record in state.outbox],
        "rejected": [_parsed(record) for record in state.rejected],
        "reads": list(state.reads),
    }


def _parsed(record: JsonDict) -> JsonDict:
    """A record with its body (kept as the JSON bytes received) parsed back."""
    return dict(record, body=orjson.loads(record["body"]))
