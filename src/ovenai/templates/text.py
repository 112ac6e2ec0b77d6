"""A template's text: its placeholders, Meta's rules for parameter values, and rendering.

Meta refuses a send whose parameter values hold a newline or a tab or more than four
consecutive spaces (132018), are empty, or make the filled-in text too long (132005);
see Meta's "Cloud API › Templates › Components" and "Support › Error codes" pages. The
checks here refuse the same values before any call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ovenai.templates.errors import InvalidTemplateParameter

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
BODY_LIMIT = 1024  # characters of the body, placeholders filled in (Templates › Components)
HEADER_LIMIT = 60  # characters of a TEXT header, placeholder filled in (Templates › Components)
_TOO_MANY_SPACES = re.compile(r" {5,}")

Components = Sequence[Mapping[str, Any]]
Params = Sequence[str] | Mapping[str, str]


def component(components: Components, kind: str) -> Mapping[str, Any] | None:
    """The first component of a kind (``BODY``, ``HEADER``, ``FOOTER``), if any."""
    for each in components:
        if str(each.get("type", "")).upper() == kind:
            return each
    return None


def _text(components: Components, kind: str) -> str:
    found = component(components, kind)
    if found is None or str(found.get("format", "TEXT")).upper() != "TEXT":
        return ""
    return str(found.get("text") or "")


def _names(text: str) -> list[str]:
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def placeholders(components: Components) -> list[str]:
    """The body's placeholders in order of first appearance (``"1"``, ``"2"`` or names)."""
    return _names(_text(components, "BODY"))


def header_placeholders(components: Components) -> list[str]:
    """The placeholders of a TEXT header (Meta allows at most one)."""
    return _names(_text(components, "HEADER"))


def keyed(names: Sequence[str], params: Params) -> dict[str, str]:
    """Parameters keyed by placeholder; a list fills ``{{1}}``, ``{{2}}`` (or names) in order."""
    if isinstance(params, Mapping):
        return {str(key): value for key, value in params.items()}
    if all(name.isdigit() for name in names):
        return {str(number): value for number, value in enumerate(params, start=1)}
    return dict(zip(names, params, strict=False))


def filled(components: Components, kind: str, values: Mapping[str, str]) -> str:
    """The text of one component with its placeholders replaced by ``values``."""
    text = _text(components, kind)
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def render(components: Components, params: Params, header_params: Sequence[str] = ()) -> str:
    """The exact text the lead sees: header, body and footer, one per line, filled in."""
    header = filled(components, "HEADER", keyed(header_placeholders(components), header_params))
    body = filled(components, "BODY", keyed(placeholders(components), params))
    footer = _text(components, "FOOTER")
    return "\n".join(part for part in (header, body, footer) if part)


def value_problem(value: object, limit: int) -> str | None:
    """Why Meta would refuse this parameter value, or None when it is fine."""
    if not isinstance(value, str):
        return "must be text"
    if not value.strip():
        return "is empty"
    if "\n" in value or "\r" in value:
        return "contains a newline"
    if "\t" in value:
        return "contains a tab"
    if _TOO_MANY_SPACES.search(value):
        return "contains more than 4 consecutive spaces"
    if len(value) > limit:
        return f"is longer than {limit} characters"
    return None


def checked(
    template: str, names: Sequence[str], params: Params, *, field: str, limit: int
) -> dict[str, str]:
    """Check the count, the keys and every value; return the values keyed by placeholder.

    Raises InvalidTemplateParameter naming the template and the offending parameter.
    """
    if isinstance(params, str):
        raise InvalidTemplateParameter(template, field, "must be a list of values", field=field)
    if len(params) != len(names):
        count = f"the template has {len(names)} placeholders, {len(params)} values given"
        raise InvalidTemplateParameter(template, field, count, field=field)
    values = keyed(names, params)
    unknown = sorted(set(values) - set(names))
    if unknown:
        label = "{{" + unknown[0] + "}}"
        raise InvalidTemplateParameter(template, label, "is not in the template", field=field)
    for name in names:
        problem = value_problem(values.get(name), limit)
        if problem is not None:
            raise InvalidTemplateParameter(
                template, "{{" + name + "}}", problem, field=f"{field}.{name}"
            )
    return values


def check_length(
    template: str, text: str, values: Mapping[str, str], *, field: str, limit: int
) -> None:
    """Refuse a filled-in text over Meta's limit, naming its longest parameter."""
    if len(text) <= limit or not values:
        return
    longest = max(values, key=lambda name: len(values[name]))
    raise InvalidTemplateParameter(
        template,
        "{{" + longest + "}}",
        f"makes the text longer than {limit} characters",
        field=f"{field}.{longest}",
    )
