"""Inbound webhooks built from ``POST /_sim/inbound`` requests, shaped as Meta documents them.

The request names the sender (``from`` phone/wa_id and/or ``user_id`` BSUID, ``name``,
``username``) and the message ``type`` with its fields, e.g. ``{"type": "text", "text":
"..."}``, ``{"type": "button_reply", "id": ..., "title": ...}``, ``{"type": "image",
"media_id": ..., "caption": ...}``, ``{"type": "system", "system_type":
"user_changed_number", "new_wa_id": ...}``, ``{"type": "user_preferences", "value":
"stop"}``. A request may also carry the type's object ready-made (``"location": {...}``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Any

import phonenumbers

from ovenai.simulator.meta_errors import MetaError, invalid

JsonDict = dict[str, Any]
MEDIA_TYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/ogg; codecs=opus",
    "document": "application/pdf",
    "sticker": "image/webp",
}


def sender_ids(request: JsonDict) -> tuple[str | None, str | None]:
    """The sender's wa_id (digits) and BSUID, either of which may be absent."""
    raw = request.get("from")
    wa_id = "".join(ch for ch in str(raw) if ch.isdigit()) if raw else None
    user_id = request.get("user_id", default_bsuid(wa_id) if wa_id else None)
    if not wa_id and not user_id:
        raise invalid("An inbound message needs 'from' (phone) or 'user_id' (BSUID).")
    return wa_id, (str(user_id) if user_id else None)


def default_bsuid(wa_id: str) -> str:
    """The business-scoped user id Meta gives a user (Meta: Business-scoped user IDs).

    Since 2026 every message webhook carries one; a request may pass ``"user_id": null`` to
    leave it out.
    """
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse("+" + wa_id)) or "ZZ"
    except phonenumbers.NumberParseException:
        region = "ZZ"
    digest = hashlib.sha256(b"bsuid:" + wa_id.encode()).digest()
    return f"{region}.{int.from_bytes(digest[:8], 'big')}"


def contact(request: JsonDict, wa_id: str | None, user_id: str | None) -> JsonDict:
    """The ``contacts[]`` element describing the sender."""
    profile: JsonDict = {"name": str(request.get("name", ""))}
    if request.get("username"):
        profile["username"] = request["username"]
    item: JsonDict = {"profile": profile}
    if wa_id:
        item["wa_id"] = wa_id
    if user_id:
        item["user_id"] = user_id
    return item


def message_object(request: JsonDict, wamid: str, now: float, display_number: str) -> JsonDict:
    """The ``messages[]`` element for an inbound request."""
    wa_id, user_id = sender_ids(request)
    kind, content = _content(request)
    message: JsonDict = {}
    if wa_id:
        message["from"] = wa_id
    if user_id:
        message["from_user_id"] = user_id
    message.update(id=wamid, timestamp=str(int(now)), type=kind)
    message[kind] = content
    _add_optional(message, request, display_number)
    return message


def _add_optional(message: JsonDict, request: JsonDict, display_number: str) -> None:
    context = request.get("context")
    if isinstance(context, str):
        message["context"] = {"from": display_number, "id": context}
    elif isinstance(context, dict):
        message["context"] = context
    if isinstance(request.get("referral"), dict):
        message["referral"] = request["referral"]
    if message["type"] == "unsupported":
        message["errors"] = [MetaError(131051).webhook_error()]


def preferences_value(request: JsonDict, now: float) -> JsonDict:
    """The value of a ``user_preferences`` change (stop / resume marketing)."""
    wa_id, user_id = sender_ids(request)
    choice = str(request.get("value", "stop"))
    item: JsonDict = {
        "detail": f"User requested to {choice} marketing messages",
        "category": "marketing_messages",
        "value": choice,
        "timestamp": int(now),
    }
    if wa_id:
        item["wa_id"] = wa_id
    if user_id:
        item["user_id"] = user_id
    return {"contacts": [contact(request, wa_id, user_id)], "user_preferences": [item]}


def _content(request: JsonDict) -> tuple[str, Any]:
    kind = str(request.get("type", "text"))
    if isinstance(request.get(kind), dict | list):
        return kind, request[kind]
    builder = BUILDERS.get(kind)
    if builder is not None:
        return builder(request)
    if kind in MEDIA_TYPES:
        return kind, _media(kind, request)
    raise invalid(f"Unknown inbound type {kind!r}.")


def _text(request: JsonDict) -> tuple[str, Any]:
    return "text", {"body": str(request.get("text", ""))}


def _button(request: JsonDict) -> tuple[str, Any]:
    text = str(request.get("text", ""))
    return "button", {"payload": str(request.get("payload", text)), "text": text}


def _button_reply(request: JsonDict) -> tuple[str, Any]:
    reply = {"id": str(request.get("id", "")), "title": str(request.get("title", ""))}
    return "interactive", {"type": "button_reply", "button_reply": reply}


def _list_reply(request: JsonDict) -> tuple[str, Any]:
    reply = {"id": str(request.get("id", "")), "title": str(request.get("title", ""))}
    if request.get("description"):
        reply["description"] = str(request["description"])
    return "interactive", {"type": "list_reply", "list_reply": reply}


def _media(kind: str, request: JsonDict) -> JsonDict:
    media_id = str(request.get("media_id") or secrets.randbelow(10**15) + 10**15)
    content: JsonDict = {
        "id": media_id,
        "mime_type": str(request.get("mime_type", MEDIA_TYPES[kind])),
        "sha256": str(request.get("sha256") or hashlib.sha256(media_id.encode()).hexdigest()),
    }
    for key in ("caption", "filename", "voice", "animated", "url"):
        if key in request:
            content[key] = request[key]
    return content


def _location(request: JsonDict) -> tuple[str, Any]:
    content = {"latitude": request.get("latitude"), "longitude": request.get("longitude")}
    content.update({k: request[k] for k in ("name", "address", "url") if k in request})
    return "location", content


def _reaction(request: JsonDict) -> tuple[str, Any]:
    content = {"message_id": str(request.get("message_id", ""))}
    if request.get("emoji"):
        content["emoji"] = str(request["emoji"])
    return "reaction", content


def _order(request: JsonDict) -> tuple[str, Any]:
    keys = ("catalog_id", "text", "product_items")
    return "order", {key: request[key] for key in keys if key in request}


def _unsupported(request: JsonDict) -> tuple[str, Any]:
    return "unsupported", {"type": str(request.get("unsupported_type", "poll_creation"))}


def _system(request: JsonDict) -> tuple[str, Any]:
    system_type = str(request.get("system_type", "user_changed_number"))
    name = str(request.get("name", "User"))
    content: JsonDict = {"type": system_type}
    if system_type == "user_changed_user_id":
        content["body"] = f"{name}'s user id changed"
        content["user_id"] = str(request.get("new_user_id", ""))
    else:
        new_wa_id = str(request.get("new_wa_id", ""))
        content.update(body=f"{name} changed their phone number", wa_id=new_wa_id)
        content["new_wa_id"] = new_wa_id
    return "system", content


def _contacts(request: JsonDict) -> tuple[str, Any]:
    return "contacts", list(request.get("contacts") or [])


BUILDERS: dict[str, Callable[[JsonDict], tuple[str, Any]]] = {
    "text": _text,
    "button": _button,
    "button_reply": _button_reply,
    "list_reply": _list_reply,
    "location": _location,
    "reaction": _reaction,
    "order": _order,
    "unsupported": _unsupported,
    "system": _system,
    "contacts": _contacts,
}
