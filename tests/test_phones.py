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


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("12125550123", "+12125550123"),
        ("1 212 555 0123", "+12125550123"),
        ("447911123456", "+447911123456"),
    ],
)
def test_an_international_number_without_the_plus_keeps_its_country(raw: str, e164: str) -> None:
    assert phones.normalize(raw) == e164


@pytest.mark.parametrize("raw", ["3546111234", "354 611 1234"])
def test_ten_digits_without_a_plus_or_a_zero_are_never_read_as_international(raw: str) -> None:
    # +354 611 1234 is a valid Icelandic number; written without the plus it is an Israeli
    # number of the wrong shape, and refused.
    with pytest.raises(InvalidInput, match="is not a valid phone number"):
        phones.normalize(raw)


def test_a_possible_number_of_a_country_without_a_mobile_example_is_refused() -> None:
    # +870 (Inmarsat) has no example mobile number: plausibility needs validity there.
    with pytest.raises(InvalidInput):
        phones.normalize("+870 123 456 789")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "a phone number is required"),
        ("abc", "'abc' is not a phone number"),
        ("050-123", "'050-123' is not a valid phone number"),
    ],
)
def test_each_refusal_says_why_and_names_the_default_field(raw: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        phones.normalize(raw)
    assert (caught.value.message, caught.value.field) == (message, "phone")


def test_try_normalize_answers_the_number_or_none() -> None:
    assert phones.try_normalize("050-123-4567") == "+972501234567"
    assert phones.try_normalize("050-123") is None


@pytest.mark.parametrize(
    ("e164", "kind"),
    [
        ("+97235551234", "a landline"),
        ("+972733456789", "a VoIP number"),
        ("+9721800123456", "a toll-free number"),
    ],
)
def test_a_number_whatsapp_may_not_reach_is_named(e164: str, kind: str) -> None:
    assert phones.reach_warning(e164) == (
        f"this is {kind}: WhatsApp may not reach it unless the number is registered on WhatsApp"
    )


def test_a_mobile_number_or_nonsense_has_no_reach_warning() -> None:
    assert phones.reach_warning("+972501234567") is None
    assert phones.reach_warning("not a number") is None
