"""Build the JSON bodies of Graph send calls from plain values (Meta's shapes, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

JsonDict = dict[str, Any]
ParamValue = str | Mapping[str, Any]
BodyParams = Sequence[ParamValue] | Mapping[str, str]
MediaKind = Literal["image", "document", "audio", "video", "sticker"]
MEDIA_KINDS: frozenset[str] = frozenset({"image", "document", "audio", "video", "sticker"})


@dataclass(frozen=True, slots=True)
class QuickReplyButton:
    """Payload of a template's quick-reply button at ``index`` (comes back on tap)."""

    index: int
    payload: str


@dataclass(frozen=True, slots=True)
class UrlButton:
    """Dynamic suffix of a template's URL button at ``index``."""

    index: int
    suffix: str


@dataclass(frozen=True, slots=True)
class ReplyButton:
    """One reply button of an interactive message (title ≤ 20 chars)."""

    id: str
    title: str


TemplateButton = QuickReplyButton | UrlButton


def recipient_fields(to: str | None, recipient: str | None) -> JsonDict:
    """The addressing part: a phone/wa_id in ``to`` or a BSUID in ``recipient``."""
    if (to is None) == (recipient is None):
        raise ValueError("give exactly one of to= (phone or wa_id) or recipient= (BSUID)")
    if to is not None:
        return {"to": to}
    return {"recipient": recipient}


def envelope(
    recipient: JsonDict, kind: str, content: JsonDict, extra: Mapping[str, Any] | None = None
) -> JsonDict:
    """The common body of a send: product, recipient, type and the typed object."""
    body: JsonDict = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    body.update(recipient)
    body["type"] = kind
    body[kind] = content
    if extra:
        body.update({key: value for key, value in extra.items() if value is not None})
    return body


def send_extras(reply_to: str | None, callback_data: str | None) -> JsonDict:
    """Optional quoting context and ``biz_opaque_callback_data``."""
    extra: JsonDict = {}
    if reply_to is not None:
        extra["context"] = {"message_id": reply_to}
    if callback_data is not None:
        extra["biz_opaque_callback_data"] = callback_data
    return extra


def text_parameter(value: ParamValue, name: str | None = None) -> JsonDict:
    """One parameter: a string becomes a text parameter; a mapping is used as given."""
    if not isinstance(value, str):
        return dict(value)
    param: JsonDict = {"type": "text", "text": value}
    if name is not None:
        param["parameter_name"] = name
    return param


def body_parameters(params: BodyParams) -> list[JsonDict]:
    """Positional parameters (a sequence) or named ones (a mapping name → text)."""
    if isinstance(params, Mapping):
        return [text_parameter(value, name) for name, value in params.items()]
    return [text_parameter(value) for value in params]


def button_component(button: TemplateButton) -> JsonDict:
    """The ``button`` component for one parameterised template button."""
    if isinstance(button, QuickReplyButton):
        sub_type, param = "quick_reply", {"type": "payload", "payload": button.payload}
    else:
        sub_type, param = "url", {"type": "text", "text": button.suffix}
    return {
        "type": "button",
        "sub_type": sub_type,
        "index": str(button.index),
        "parameters": [param],
    }


def template_components(
    body: BodyParams, header: BodyParams, buttons: Sequence[TemplateButton]
) -> list[JsonDict]:
    """The ``components`` array of a template send (empty parts are left out)."""
    components: list[JsonDict] = []
    if header:
        components.append({"type": "header", "parameters": body_parameters(header)})
    if body:
        components.append({"type": "body", "parameters": body_parameters(body)})
    components.extend(button_component(button) for button in buttons)
    return components


def template_content(
    name: str,
    language: str,
    body: BodyParams = (),
    header: BodyParams = (),
    buttons: Sequence[TemplateButton] = (),
) -> JsonDict:
    """The ``template`` object: name, language code and components."""
    content: JsonDict = {"name": name, "language": {"code": language}}
    components = template_components(body, header, buttons)
    if components:
        content["components"] = components
    return content


def text_content(text: str, preview_url: bool = False) -> JsonDict:
    """The ``text`` object of a free-form message."""
    return {"body": text, "preview_url": preview_url}


def media_content(
    kind: str,
    *,
    media_id: str | None = None,
    link: str | None = None,
    caption: str | None = None,
    filename: str | None = None,
) -> JsonDict:
    """The media object, by uploaded id or by link (caption and filename where allowed)."""
    if kind not in MEDIA_KINDS:
        raise ValueError(f"unknown media kind {kind!r}; one of {sorted(MEDIA_KINDS)}")
    if (media_id is None) == (link is None):
        raise ValueError("give exactly one of media_id= or link=")
    content: JsonDict = {"id": media_id} if media_id is not None else {"link": link}
    if caption is not None and kind not in ("audio", "sticker"):
        content["caption"] = caption
    if filename is not None and kind == "document":
        content["filename"] = filename
    return content


def buttons_content(body: str, buttons: Sequence[ReplyButton]) -> JsonDict:
    """The ``interactive`` object of a reply-buttons message (1 to 3 buttons)."""
    if not 1 <= len(buttons) <= 3:
        raise ValueError("an interactive buttons message takes 1 to 3 buttons")
    replies = [{"type": "reply", "reply": {"id": b.id, "title": b.title}} for b in buttons]
    return {"type": "button", "body": {"text": body}, "action": {"buttons": replies}}


def mark_read_body(message_id: str, typing: bool = False) -> JsonDict:
    """Body that marks an inbound message read (optionally shows "typing…")."""
    body: JsonDict = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
    if typing:
        body["typing_indicator"] = {"type": "text"}
    return body


def template_definition(
    name: str,
    language: str,
    category: str,
    components: Sequence[Mapping[str, Any]],
    parameter_format: str | None = None,
) -> JsonDict:
    """Body of ``POST /{waba_id}/message_templates``."""
    body: JsonDict = {
        "name": name,
        "language": language,
        "category": category,
        "components": [dict(component) for component in components],
    }
    if parameter_format is not None:
        body["parameter_format"] = parameter_format
    return body
