"""Validation of send bodies, with Meta's codes (100, 131008, 132000, 132001, 132018)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ovenai.simulator.meta_errors import MetaError, invalid
from ovenai.simulator.templates import StoredTemplate, TemplateStore

JsonDict = dict[str, Any]
MESSAGE_TYPES = frozenset(
    {
        "text",
        "image",
        "audio",
        "video",
        "document",
        "sticker",
        "location",
        "contacts",
        "interactive",
        "template",
        "reaction",
    }
)
BAD_PARAM_RE = re.compile(r"[\n\t]| {5,}")


@dataclass(frozen=True, slots=True)
class SendRequest:
    """The parts of a valid send body the simulator acts on."""

    kind: str
    to: str | None
    wa_id: str | None
    user_id: str | None
    callback_data: str | None

    @property
    def key(self) -> str:
        """The recipient identity used for windows and limits."""
        return self.wa_id or self.user_id or ""


def parse_send(body: Any) -> SendRequest:
    """Check the common fields of a ``/messages`` send and read the recipient."""
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    if body.get("messaging_product") != "whatsapp":
        raise invalid("The parameter messaging_product is required and must be 'whatsapp'.")
    kind = body.get("type", "text")
    if kind not in MESSAGE_TYPES:
        raise invalid(f"Param type must be one of {sorted(MESSAGE_TYPES)}.")
    if not isinstance(body.get(kind), dict | list):
        raise invalid(f"The parameter {kind} is required.")
    to, recipient = body.get("to"), body.get("recipient")
    if bool(to) == bool(recipient):
        raise invalid("Exactly one of the parameters to or recipient is required.")
    wa_id = digits(str(to)) if to else None
    if to and not wa_id:
        raise MetaError(131009, "The parameter to is not a valid phone number.")
    callback = body.get("biz_opaque_callback_data")
    return SendRequest(kind, to, wa_id, str(recipient) if recipient else None, callback)


def digits(number: str) -> str:
    """The digits of a phone number, as Meta's wa_id (``+972 50-...`` becomes ``97250...``)."""
    plain = number[1:] if number[:1] == "+" else number
    # The usual E.164 shape needs no walk character by character; the result is the same.
    if plain.isdigit():
        return plain
    return "".join(ch for ch in number if ch.isdigit())


def check_content(kind: str, content: Any) -> None:
    """Type-specific checks of free-form messages (templates are checked apart)."""
    if kind == "text" and not (isinstance(content.get("body"), str) and content["body"]):
        raise invalid("The parameter text['body'] is required.")
    if kind == "text" and len(content["body"]) > 4096:
        raise invalid("Param text['body'] must be at most 4096 characters long.")
    if kind in ("image", "audio", "video", "document", "sticker"):
        if not (content.get("id") or content.get("link")):
            raise invalid(f"The parameter {kind}['id'] or {kind}['link'] is required.")
    if kind == "interactive":
        _check_interactive(content)
    if kind == "reaction" and not content.get("message_id"):
        raise invalid("The parameter reaction['message_id'] is required.")


def _check_interactive(content: JsonDict) -> None:
    if not content.get("type"):
        raise invalid("The parameter interactive['type'] is required.")
    if content["type"] == "button":
        buttons = (content.get("action") or {}).get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise invalid("interactive['action']['buttons'] must hold 1 to 3 buttons.")


def check_template(store: TemplateStore, waba_id: str, content: JsonDict) -> StoredTemplate:
    """Find the approved template and check its parameters; return it."""
    name = content.get("name")
    language = (content.get("language") or {}).get("code")
    if not name or not language:
        raise invalid(
            "The parameters template['name'] and template['language']['code'] are required."
        )
    template = store.find(waba_id, str(name), str(language))
    if template is None or template.status != "APPROVED":
        details = f"template name ({name}) does not exist in {language}"
        raise MetaError(132001, details)
    given = _parameters(content.get("components"))
    _check_params(template, "BODY", given.get("body", []))
    if header_format(template) in MEDIA_HEADER_FORMATS:
        _check_media_header(template, given.get("header", []))
    else:
        _check_params(template, "HEADER", given.get("header", []))
    return template


MEDIA_HEADER_FORMATS = frozenset({"IMAGE", "DOCUMENT", "VIDEO"})


def header_format(template: StoredTemplate) -> str:
    """The template's header format (TEXT when it has none or says none)."""
    for component in template.components:
        if str(component.get("type", "")).upper() == "HEADER":
            return str(component.get("format") or "TEXT").upper()
    return "TEXT"


def media_header_id(template: StoredTemplate, content: JsonDict) -> str | None:
    """The uploaded media id a media header's parameter names (None: by link, or none)."""
    if header_format(template) not in MEDIA_HEADER_FORMATS:
        return None
    (param,) = _parameters(content.get("components")).get("header", [])
    found = param[param["type"]].get("id")
    return str(found) if found else None


def _check_media_header(template: StoredTemplate, params: list[Any]) -> None:
    """A media header takes one parameter of its format, by id or by link (132012 if not)."""
    kind = header_format(template).lower()
    if len(params) != 1:
        details = f"header: a {kind} header needs one {kind} parameter, {len(params)} given"
        raise MetaError(132000, details)
    (param,) = params
    media = param.get(kind) if isinstance(param, dict) and param.get("type") == kind else None
    if not isinstance(media, dict) or not (media.get("id") or media.get("link")):
        raise MetaError(132012, f"header: expected a {kind} parameter with an id or a link")


def _parameters(components: Any) -> dict[str, list[Any]]:
    if components is None:
        return {}
    if not isinstance(components, list):
        raise invalid("template['components'] must be a list.")
    found: dict[str, list[Any]] = {}
    for component in components:
        if not isinstance(component, dict) or "type" not in component:
            raise invalid("Each template component needs a type.")
        params = component.get("parameters") or []
        found.setdefault(str(component["type"]).lower(), []).extend(params)
    return found


def _check_params(template: StoredTemplate, part: str, params: list[Any]) -> None:
    expected = template.placeholders(part)
    if len(params) != len(expected):
        details = (
            f"{part.lower()}: number of localizable_params ({len(params)}) does not match "
            f"the expected number of params ({len(expected)})"
        )
        raise MetaError(132000, details)
    if template.parameter_format == "NAMED":
        names = {p.get("parameter_name") for p in params if isinstance(p, dict)}
        if names != set(expected):
            raise MetaError(132000, f"{part.lower()}: parameter names {sorted(expected)} expected")
    for param in params:
        _check_param(param)


def _check_param(param: Any) -> None:
    if not isinstance(param, dict) or "type" not in param:
        raise invalid("Each template parameter needs a type.")
    if param["type"] != "text":
        return
    text = param.get("text")
    if not isinstance(text, str) or not text:
        raise MetaError(131008, "Parameter text is required and may not be empty.")
    if BAD_PARAM_RE.search(text):
        raise MetaError(132018)
