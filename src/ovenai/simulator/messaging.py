"""What happens to a send: limits, windows, opt-outs, acceptance and status webhooks.

Checks run in Meta's spirit: payload validation first (100, 132001, 132000, 132018), then
the number's throughput (130429) and the pair limit (131056), then the user's situation
(131026 unreachable, 131047 outside the window, 131050 marketing opt-out). Unreachable
numbers and opt-outs answer synchronously by default; with the ``async`` fault mode the
send is accepted and a ``failed`` status webhook carries the error instead.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from ovenai.simulator import control
from ovenai.simulator.events import SentMessage, status_object
from ovenai.simulator.meta_errors import MetaError
from ovenai.simulator.sends import (
    SendRequest,
    check_content,
    check_template,
    media_header_id,
    parse_send,
)
from ovenai.simulator.state import SimulatorState

JsonDict = dict[str, Any]


def handle_send(state: SimulatorState, body: Any, raw: bytes | None = None) -> JsonDict:
    """Accept a ``/messages`` send (parsed from ``raw``) like Meta, or raise MetaError."""
    now = time.monotonic()
    state.rate.attempt(now)
    # Records keep the body as JSON bytes: a dict of strings, bytes and numbers is never
    # tracked by the garbage collector, so the ever-growing outbox costs no collections.
    raw = orjson.dumps(body) if raw is None else raw
    try:
        if isinstance(body, dict) and body.get("status") == "read":
            return _mark_read(state, body)
        return _accept(state, parse_send(body), body, raw, now)
    except MetaError as error:
        state.count(f"rejected_{error.code}")
        state.rejected.append({"code": error.code, "body": raw, "details": error.detail_text()})
        raise


def _mark_read(state: SimulatorState, body: JsonDict) -> JsonDict:
    if not body.get("message_id"):
        raise MetaError(100, "The parameter message_id is required.")
    state.reads.append(body)
    state.count("reads")
    return {"success": True}


def _accept(
    state: SimulatorState, request: SendRequest, body: JsonDict, raw: bytes, now: float
) -> JsonDict:
    category = _check_payload(state, request, body)
    if state.rate.full(now, state.settings.mps_cap):
        raise MetaError(130429)
    if state.pair_limited(request.key):
        raise MetaError(131056)
    async_error = _check_user(state, request, category)
    state.rate.accept(now)
    state.note_pair(request.key)
    wamid = state.new_wamid()
    state.outbox.append({"id": wamid, "type": request.kind, "body": raw, "at": state.now()})
    state.count("accepted")
    if _statuses_wanted(state, async_error):
        _schedule_statuses(state, _sent_message(state, request, wamid, category), async_error)
    if async_error is None:
        _persona_answers(state, request.wa_id or state.wa_of_user.get(request.user_id or ""))
    return _answer(state, request, wamid)


def _persona_answers(state: SimulatorState, wa_id: str | None) -> None:
    """A scripted user (personas.py) answers with its next line after its delay."""
    persona = state.personas.get(wa_id or "")
    if persona is None:
        return
    line = persona.next_line()
    if line is None:
        return
    request = {"from": persona.wa_id, "name": persona.name, "text": line, "wait": False}

    def answer() -> None:
        task = asyncio.get_running_loop().create_task(control.deliver_inbound(state, request))
        persona.tasks.add(task)
        task.add_done_callback(persona.tasks.discard)

    state.later(persona.delay_s, answer)


def _check_payload(state: SimulatorState, request: SendRequest, body: JsonDict) -> str | None:
    content = body[request.kind]
    if request.kind != "template":
        check_content(request.kind, content)
        if request.kind in ("image", "document", "video", "audio", "sticker") and "id" in content:
            state.media.check_sendable(str(content["id"]), state.now())
        return None
    template = check_template(state.templates, state.settings.business_account_id, content)
    header_id = media_header_id(template, content)
    if header_id is not None:
        state.media.check_sendable(header_id, state.now())
    return template.category.lower()


def _check_user(
    state: SimulatorState, request: SendRequest, category: str | None
) -> MetaError | None:
    """Raise the synchronous user errors; return an error to report asynchronously."""
    faults = state.faults
    if request.wa_id in faults.unreachable or request.user_id in faults.unreachable:
        if not faults.unreachable_async:
            raise MetaError(131026)
        return MetaError(131026)
    if category is None and not state.in_window(request.key):
        raise MetaError(131047)
    if category == "marketing" and request.key in state.stopped:
        if not faults.opt_out_async:
            raise MetaError(131050)
        return MetaError(131050)
    return None


def _sent_message(
    state: SimulatorState, request: SendRequest, wamid: str, category: str | None
) -> SentMessage:
    wa_id = request.wa_id or state.wa_of_user.get(request.user_id or "")
    return SentMessage(
        wamid=wamid,
        wa_id=wa_id,
        user_id=request.user_id,
        category=category,
        in_window=state.in_window(request.key),
        callback_data=request.callback_data,
    )


def _answer(state: SimulatorState, request: SendRequest, wamid: str) -> JsonDict:
    contact: JsonDict = {"input": request.to or request.user_id}
    wa_id = request.wa_id or state.wa_of_user.get(request.user_id or "")
    if wa_id:
        contact["wa_id"] = wa_id
    if request.user_id:
        contact["user_id"] = request.user_id
    message: JsonDict = {"id": wamid}
    if request.kind == "template":
        message["message_status"] = "accepted"
    return {"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]}


def _statuses_wanted(state: SimulatorState, error: MetaError | None) -> bool:
    """Whether this send gets status webhooks (a failure always does, others are sampled)."""
    settings = state.settings
    if not settings.statuses or not settings.webhook_url:
        return False
    return error is not None or state.rng.random() < settings.status_sample_rate


def _schedule_statuses(state: SimulatorState, sent: SentMessage, error: MetaError | None) -> None:
    settings = state.settings
    delays = settings.status_delays
    if error is not None:
        _later_status(state, delays[0], sent, "failed", error.webhook_error())
        return
    steps = [("sent", delays[0]), ("delivered", delays[1])]
    if settings.read_receipts:
        steps.append(("read", delays[2]))
    if state.faults.reorder_webhooks:
        steps = [
            (name, delay)
            for (name, _), delay in zip(steps, reversed([d for _, d in steps]), strict=True)
        ]
    for name, delay in steps:
        _later_status(state, delay, sent, name)


def _later_status(
    state: SimulatorState,
    delay: float,
    sent: SentMessage,
    status: str,
    error: JsonDict | None = None,
) -> None:
    def emit() -> None:
        state.count(f"status_{status}")
        state.dispatcher.add_status(status_object(sent, status, state.now(), error))

    state.later(delay, emit)
