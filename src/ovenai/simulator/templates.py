"""Template store per WABA: the configured WABA starts with the eight seed templates."""

from __future__ import annotations

import base64
import itertools
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ovenai.simulator.meta_errors import MetaError, invalid
from ovenai.simulator.template_rules import enforce

NAME_RE = re.compile(r"^[a-z0-9_]{1,512}$")
PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
CATEGORIES = frozenset({"MARKETING", "UTILITY", "AUTHENTICATION"})
_ids = itertools.count(880000000000001)


def load_seed_templates() -> list[dict[str, Any]]:
    """The eight seed templates of ``ovenai/data/seed_templates.json``."""
    text = resources.files("ovenai").joinpath("data/seed_templates.json").read_text("utf-8")
    loaded: list[dict[str, Any]] = json.loads(text)
    return loaded


@dataclass
class StoredTemplate:
    """One template of one WABA."""

    waba_id: str
    name: str
    language: str
    category: str
    components: list[dict[str, Any]]
    status: str = "PENDING"
    parameter_format: str = "POSITIONAL"
    quality: str = "UNKNOWN"  # Meta's score for a template too new to be rated
    id: str = field(default_factory=lambda: str(next(_ids)))
    # Components never change once stored, so each send need not re-run the regex.
    _placeholders: dict[str, tuple[str, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def to_graph(self) -> dict[str, Any]:
        """The template as ``GET message_templates`` lists it."""
        return {
            "name": self.name,
            "parameter_format": self.parameter_format,
            "components": self.components,
            "language": self.language,
            "status": self.status,
            "category": self.category,
            "quality_score": {"score": self.quality},
            "id": self.id,
        }

    def placeholders(self, component_type: str) -> tuple[str, ...]:
        """Placeholder names (``"1"``, ``"first_name"``) of the HEADER or BODY text."""
        found = self._placeholders.get(component_type)
        if found is None:
            found = self._placeholders[component_type] = self._find_placeholders(component_type)
        return found

    def _find_placeholders(self, component_type: str) -> tuple[str, ...]:
        for component in self.components:
            if str(component.get("type", "")).upper() == component_type:
                return tuple(PLACEHOLDER_RE.findall(str(component.get("text", ""))))
        return ()


class TemplateStore:
    """Templates keyed by WABA id; any WABA id exists and starts empty."""

    def __init__(self, home_waba: str, *, seeded: bool = True) -> None:
        self._by_waba: dict[str, list[StoredTemplate]] = {}
        for seed in load_seed_templates() if seeded else ():
            self._by_waba.setdefault(home_waba, []).append(_stored(home_waba, seed, "APPROVED"))

    def of(self, waba_id: str) -> list[StoredTemplate]:
        """All templates of a WABA, oldest first."""
        return self._by_waba.setdefault(waba_id, [])

    def find(self, waba_id: str, name: str, language: str) -> StoredTemplate | None:
        """The template with this name and language, if any."""
        for template in self.of(waba_id):
            if template.name == name and template.language == language:
                return template
        return None

    def page(
        self, waba_id: str, *, limit: int, after: str | None, filters: dict[str, str]
    ) -> tuple[list[StoredTemplate], str | None]:
        """One page of a listing and the cursor after it (``None`` on the last page)."""
        matching = [t for t in self.of(waba_id) if _matches(t, filters)]
        start = _decode_cursor(after)
        chunk = matching[start : start + limit]
        more = start + limit < len(matching)
        return chunk, (encode_cursor(start + limit) if more else None)

    def create(self, waba_id: str, body: dict[str, Any]) -> StoredTemplate:
        """Validate a submission (Meta's creation rules too) and store it as ``PENDING``."""
        _validate_submission(body)
        if self.find(waba_id, body["name"], body["language"]) is not None:
            raise invalid("Content in this language already exists.", subcode=2388024)
        enforce(body)
        template = _stored(waba_id, body, "PENDING")
        self.of(waba_id).append(template)
        return template

    def pending(self, waba_id: str | None, name: str | None) -> list[StoredTemplate]:
        """Templates in review, optionally of one WABA and name."""
        every = self._by_waba.values() if waba_id is None else [self.of(waba_id)]
        found = [t for group in every for t in group if t.status == "PENDING"]
        return [t for t in found if name is None or t.name == name]


def _stored(waba_id: str, body: dict[str, Any], status: str) -> StoredTemplate:
    return StoredTemplate(
        waba_id=waba_id,
        name=str(body["name"]),
        language=str(body["language"]),
        category=str(body["category"]).upper(),
        components=[dict(c) for c in body.get("components", [])],
        status=status,
        parameter_format=str(body.get("parameter_format") or "POSITIONAL").upper(),
        quality="GREEN" if status == "APPROVED" else "UNKNOWN",
    )


def _validate_submission(body: dict[str, Any]) -> None:
    for key in ("name", "language", "category", "components"):
        if not body.get(key):
            raise invalid(f"The parameter {key} is required.")
    if not NAME_RE.match(str(body["name"])):
        raise invalid("Template name may only hold lowercase letters, digits and underscores.")
    if str(body["category"]).upper() not in CATEGORIES:
        raise invalid(f"Invalid category {body['category']!r}.")
    components = body["components"]
    if not isinstance(components, list) or not any(_is_body(c) for c in components):
        raise invalid("components must be a list holding a BODY component with text.")


def _is_body(component: Any) -> bool:
    if not isinstance(component, dict):
        return False
    return str(component.get("type", "")).upper() == "BODY" and bool(component.get("text"))


def _matches(template: StoredTemplate, filters: dict[str, str]) -> bool:
    return all(str(getattr(template, key)) == value for key, value in filters.items())


def encode_cursor(index: int) -> str:
    """An opaque cursor for a listing position."""
    return base64.urlsafe_b64encode(f"pos:{index}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(base64.urlsafe_b64decode(padded).decode().removeprefix("pos:"))
    except ValueError:
        raise MetaError(100, "Invalid pagination cursor.") from None
