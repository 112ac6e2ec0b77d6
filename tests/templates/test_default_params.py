"""Default parameters of the seed families come from the lead and its property."""

from __future__ import annotations

from typing import Any

import pytest

from ovenai import templates
from ovenai.errors import InvalidInput

LEAD: dict[str, Any] = {
    "lead_name": "דנה כהן",
    "property_city": "חיפה",
    "property_area": "הדר",
    "rooms": "4",
    "size_m2": "120",
    "price": "₪2,450,000",
    "meeting_time": "10:30",
    "documents": "תלושי שכר",
}


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("welcome_new_lead", ["דנה כהן", "חיפה"]),
        ("property_details", ["דנה כהן", "חיפה", "4", "120", "₪2,450,000"]),
        ("meeting_reminder", ["דנה כהן", "10:30"]),
        ("followup_interest", ["דנה כהן", "הדר"]),
        ("document_request", ["דנה כהן", "תלושי שכר"]),
    ],
)
def test_each_seed_family_gets_its_parameters_in_order(family: str, expected: list[str]) -> None:
    assert templates.fill_params(family, **LEAD) == expected


def test_the_welcome_uses_the_area_when_the_city_is_missing() -> None:
    values = LEAD | {"property_city": None}
    assert templates.fill_params("welcome_new_lead", **values) == ["דנה כהן", "הדר"]


def test_stored_whitespace_is_folded_so_the_send_passes() -> None:
    values = LEAD | {"lead_name": " דנה\n  כהן\t"}
    assert templates.fill_params("meeting_reminder", **values) == ["דנה כהן", "10:30"]


def test_a_missing_value_names_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        templates.fill_params("meeting_reminder", **(LEAD | {"meeting_time": " "}))
    assert caught.value.field == "meeting_time"
    assert caught.value.message == "template meeting_reminder needs meeting_time, which is missing"


def test_a_family_without_defaults_asks_for_params() -> None:
    with pytest.raises(InvalidInput) as caught:
        templates.fill_params("visit_confirmed", **LEAD)
    assert caught.value.field == "params"
