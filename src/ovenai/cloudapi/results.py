"""Typed results of Cloud API calls, read defensively from Meta's answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ovenai.meta_enums import MetaEnum, TemplateStatus


class TemplateCategory(MetaEnum):
    """Category of a message template; decides the price of a delivered message."""

    MARKETING = "MARKETING"
    UTILITY = "UTILITY"
    AUTHENTICATION = "AUTHENTICATION"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class SendResult:
    """Meta accepted a message: its wamid and the canonical ids of the recipient."""

    message_id: str
    input: str | None = None
    wa_id: str | None = None
    user_id: str | None = None
    message_status: str | None = None

    @classmethod
    def from_response(cls, body: Mapping[str, Any]) -> SendResult:
        """Read ``{"contacts": [...], "messages": [{"id": ...}]}``."""
        contact = _first(body.get("contacts"))
        message = _first(body.get("messages"))
        return cls(
            message_id=str(message.get("id", "")),
            input=contact.get("input"),
            wa_id=contact.get("wa_id"),
            user_id=contact.get("user_id"),
            message_status=message.get("message_status"),
        )


@dataclass(frozen=True, slots=True)
class Template:
    """One message template as listed by ``GET /{waba_id}/message_templates``."""

    id: str
    name: str
    language: str
    category: TemplateCategory
    status: TemplateStatus
    components: tuple[dict[str, Any], ...] = ()
    parameter_format: str | None = None
    quality: str | None = None  # GREEN / YELLOW / RED / UNKNOWN (Meta's quality_score)

    @classmethod
    def from_graph(cls, item: Mapping[str, Any]) -> Template:
        """Read one element of the listing's ``data`` array."""
        return cls(
            id=str(item.get("id", "")),
            name=str(item.get("name", "")),
            language=str(item.get("language", "")),
            category=TemplateCategory(str(item.get("category", "UNKNOWN")).upper()),
            status=TemplateStatus(str(item.get("status", "UNKNOWN")).upper()),
            components=tuple(dict(c) for c in item.get("components") or ()),
            parameter_format=item.get("parameter_format"),
            quality=_quality(item.get("quality_score")),
        )

    def definition(self) -> dict[str, Any]:
        """The fields needed to submit this template to another WABA."""
        body: dict[str, Any] = {
            "name": self.name,
            "language": self.language,
            "category": self.category.value,
            "components": [dict(c) for c in self.components],
        }
        if self.parameter_format:
            body["parameter_format"] = self.parameter_format
        return body


@dataclass(frozen=True, slots=True)
class CreatedTemplate:
    """Answer to a template submission: its id and first review status."""

    id: str
    status: TemplateStatus
    category: TemplateCategory

    @classmethod
    def from_response(cls, body: Mapping[str, Any]) -> CreatedTemplate:
        """Read ``{"id": ..., "status": ..., "category": ...}``."""
        return cls(
            id=str(body.get("id", "")),
            status=TemplateStatus(str(body.get("status", "UNKNOWN")).upper()),
            category=TemplateCategory(str(body.get("category", "UNKNOWN")).upper()),
        )


def _first(items: Any) -> Mapping[str, Any]:
    if isinstance(items, list) and items and isinstance(items[0], Mapping):
        return items[0]
    return {}


def _quality(score: Any) -> str | None:
    """Meta's ``quality_score`` is an object (``{"score": "GREEN", ...}``) or absent."""
    if isinstance(score, Mapping):
        value = score.get("score")
        return str(value).upper() if value else None
    return str(score).upper() if isinstance(score, str) and score else None
