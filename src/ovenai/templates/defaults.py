"""Default parameters of the seed families, filled from a lead and its property.

Used when a caller (automation, the dashboard) sends a seed family without parameters.
Values come from stored data, so whitespace runs (a name typed with a newline) are folded
to one space here; parameters a person types are checked, never silently changed.
"""

from __future__ import annotations

from ovenai.errors import InvalidInput

# Family → the fields filling {{1}}, {{2}} ...; "a|b" takes a, or b when a is absent.
FIELDS: dict[str, tuple[str, ...]] = {
    "welcome_new_lead": ("lead_name", "property_city|property_area"),
    "property_details": ("lead_name", "property_city", "rooms", "size_m2", "price"),
    "meeting_reminder": ("lead_name", "meeting_time"),
    "followup_interest": ("lead_name", "property_area|property_city"),
    "document_request": ("lead_name", "documents"),
    "viewing_proposal": ("lead_name", "meeting_time"),
}


def fill_params(
    family: str,
    *,
    lead_name: str | None,
    property_city: str | None,
    property_area: str | None,
    rooms: str | None,
    size_m2: str | None,
    price: str | None,
    meeting_time: str | None,
    documents: str | None,
) -> list[str]:
    """The seed family's parameters in order; InvalidInput names a missing field."""
    if family not in FIELDS:
        known = ", ".join(sorted(FIELDS))
        raise InvalidInput(
            f"no default parameters for template {family} (known: {known}); give params",
            field="params",
        )
    values = {
        "lead_name": lead_name,
        "property_city": property_city,
        "property_area": property_area,
        "rooms": rooms,
        "size_m2": size_m2,
        "price": price,
        "meeting_time": meeting_time,
        "documents": documents,
    }
    return [_pick(family, spec, values) for spec in FIELDS[family]]


def uses(family: str, field: str) -> bool:
    """Whether the seed family's parameters are filled from ``field`` (True for a family
    without defaults: whoever asks may want every value)."""
    specs = FIELDS.get(family)
    return specs is None or any(field in spec.split("|") for spec in specs)


def known_params(family: str, values: dict[str, str | None]) -> list[str] | None:
    """The seed family's parameters where the values have them, "" where they do not (for a
    person to fill in); None for a family without defaults."""
    if family not in FIELDS:
        return None
    return [_first(spec.split("|"), values) for spec in FIELDS[family]]


def _first(names: list[str], values: dict[str, str | None]) -> str:
    for name in names:
        folded = " ".join((values.get(name) or "").split())
        if folded:
            return folded
    return ""


def _pick(family: str, spec: str, values: dict[str, str | None]) -> str:
    choices = spec.split("|")
    for name in choices:
        folded = " ".join((values[name] or "").split())
        if folded:
            return folded
    raise InvalidInput(f"template {family} needs {choices[0]}, which is missing", field=choices[0])
