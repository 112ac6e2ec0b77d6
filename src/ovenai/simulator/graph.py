"""The Graph API surface the client uses: messages, media, message_templates."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from ovenai.simulator.control import review
from ovenai.simulator.meta_errors import MetaError
from ovenai.simulator.state import SimulatorState
from ovenai.simulator.templates import StoredTemplate, encode_cursor

JsonDict = dict[str, Any]
LIST_FILTERS = ("status", "name", "language", "category")


def list_templates(
    state: SimulatorState, waba_id: str, query: dict[str, str], page_url: str
) -> JsonDict:
    """``GET /{waba_id}/message_templates``: a page with cursors and ``paging.next``."""
    limit = _limit(query.get("limit"))
    filters = {key: query[key] for key in LIST_FILTERS if query.get(key)}
    chunk, after = state.templates.page(
        waba_id, limit=limit, after=query.get("after"), filters=filters
    )
    fields = [f for f in query.get("fields", "").split(",") if f]
    data = [_fields(t, fields) for t in chunk]
    paging: JsonDict = {"cursors": {"before": encode_cursor(0), "after": after or ""}}
    if after is not None:
        paging["next"] = page_url + "?" + urlencode({**query, "limit": limit, "after": after})
    return {"data": data, "paging": paging}


def _limit(raw: str | None) -> int:
    try:
        limit = int(raw) if raw else 25
    except ValueError:
        raise MetaError(100, "Param limit must be an integer.") from None
    if not 1 <= limit <= 1000:
        raise MetaError(100, "Param limit must lie between 1 and 1000.")
    return limit


def _fields(template: StoredTemplate, fields: list[str]) -> JsonDict:
    full = template.to_graph()
    if not fields:
        return full
    return {key: value for key, value in full.items() if key in fields or key == "id"}


def create_template(state: SimulatorState, waba_id: str, body: Any) -> JsonDict:
    """``POST /{waba_id}/message_templates``: store as PENDING, review later."""
    if not isinstance(body, dict):
        raise MetaError(100, "The request body must be a JSON object.")
    template = state.templates.create(waba_id, body)
    delay = state.settings.template_review_s
    if delay is not None:
        state.later(delay, lambda: _review_if_pending(state, template))
    state.count("templates_created")
    return {"id": template.id, "status": template.status, "category": template.category}


def _review_if_pending(state: SimulatorState, template: StoredTemplate) -> None:
    if template.status == "PENDING":
        review(state, template)


def upload_media(state: SimulatorState, form: JsonDict) -> JsonDict:
    """``POST /{phone_number_id}/media``: the file kept, a new media id (131053 for a type
    WhatsApp does not send or bytes that are not what the type says)."""
    if form.get("messaging_product") != "whatsapp":
        raise MetaError(100, "The parameter messaging_product is required and must be 'whatsapp'.")
    data, mime_type = form.get("file"), form.get("file_type") or form.get("type")
    if not isinstance(data, bytes) or not isinstance(mime_type, str):
        raise MetaError(100, "The parameter file is required.")
    media_id = state.media.add_upload(data, mime_type, state.now())
    state.count("media_uploads")
    return {"id": media_id}
