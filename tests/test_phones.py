"""Phone numbers in every common form become one E.164 number."""

from __future__ import annotations

import pytest

from ovenai import phones
from ovenai.errors import InvalidInput

SAME_NUMBER = [
    "050-123-4567",
    "0501234567",
    "+972-50-123-4567",
    "972501234567",
    "+972 50 123 4567",
    "\u200e050-123-4567\u200f",
    "(050) 123 4567",
]


@pytest.mark.parametrize("raw", SAME_NUMBER)
def test_every_common_form_is_the_same_number(raw: str) -> None:
    assert phones.normalize(raw) == "+972501234567"


def test_a_landline_is_accepted() -> None:
    assert phones.normalize("03-555-1234") == "+97235551234"


def test_a_foreign_number_with_a_plus_keeps_its_country() -> None:
    assert phones.normalize("+1 212 555 0123") == "+12125550123"


@pytest.mark.parametrize("raw", ["", "   ", "abc", "050-123", "+9720501234567999", "12"])
def test_an_invalid_number_names_the_field(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        phones.normalize(raw, field="phone")
    assert caught.value.field == "phone"


def test_wa_id_is_e164_without_the_plus() -> None:
    assert phones.to_wa_id("+972501234567") == "972501234567"
    assert phones.from_wa_id("972501234567") == "+972501234567"
    assert phones.from_wa_id("IL.123") is None
