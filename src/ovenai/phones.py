"""Phone numbers: one canonical E.164 form for every way people write them.

Agents paste numbers from contacts, Excel and portals: `050-123-4567`, `0501234567`,
`+972-50-123-4567`, `972501234567` and the same with RTL marks are all `+972501234567`.
Israel (IL) is the default region. WhatsApp's `wa_id` is the E.164 form without the `+`.
"""

from __future__ import annotations

import functools
import re

import phonenumbers

from ovenai.errors import InvalidInput

DEFAULT_REGION = "IL"
WA_ID_CACHE = 16_384  # wa_ids whose phone is remembered (a few MB at most)
# Bidi marks copied from phone contacts (docs/whatsapp-api-notes.md, "Phone numbers and user ids").
_INVISIBLE = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u00a0]")


def normalize(raw: str, *, field: str = "phone", region: str = DEFAULT_REGION) -> str:
    """The E.164 form of a phone number; InvalidInput naming `field` if it is not one."""
    text = _INVISIBLE.sub("", raw or "").strip()
    if not text:
        raise InvalidInput("a phone number is required", field=field)
    number = _parse(text, field=field, region=region)
    if not _plausible(number):
        raise InvalidInput(f"{raw!r} is not a valid phone number", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse(text: str, *, field: str, region: str) -> phonenumbers.PhoneNumber:
    candidates = [text]
    digits = re.sub(r"\D", "", text)
    if not text.startswith(("+", "0")) and len(digits) > 10:
        candidates.append("+" + digits)  # 972501234567: international without the plus
    for candidate in reversed(candidates):
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if _plausible(number):
            return number
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"{text!r} is not a phone number", field=field) from exc


def _plausible(number: phonenumbers.PhoneNumber) -> bool:
    """Valid, or shaped exactly like a mobile number of its country.

    The library's allocation tables lag the operators (it calls 050-123-4567 unallocated),
    and refusing a real lead is worse than letting Meta answer 131026 for a dead number.
    """
    if phonenumbers.is_valid_number(number):
        return True
    region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None or not phonenumbers.is_possible_number(number):
        return False
    national, sample = str(number.national_number), str(example.national_number)
    return len(national) == len(sample) and national[0] == sample[0]


_NOT_MOBILE = {
    phonenumbers.PhoneNumberType.FIXED_LINE: "a landline",
    phonenumbers.PhoneNumberType.VOIP: "a VoIP number",
    phonenumbers.PhoneNumberType.TOLL_FREE: "a toll-free number",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    phonenumbers.PhoneNumberType.SHARED_COST: "a shared-cost number",
    phonenumbers.PhoneNumberType.UAN: "a company's short number",
    phonenumbers.PhoneNumberType.PAGER: "a pager number",
}
NOT_MOBILE_KINDS = frozenset(_NOT_MOBILE.values())


def reach_warning(e164: str) -> str | None:
    """Why WhatsApp may not reach a valid number, or None for a mobile one.

    Landlines (02, 03, 04, 08, 09 in Israel), VoIP (07x) and service numbers are accepted as
    leads' phones (a business may run WhatsApp on one), but most have no WhatsApp account.
    """
    kind = not_mobile(e164)
    if kind is None:
        return None
    return f"this is {kind}: WhatsApp may not reach it unless the number is registered on WhatsApp"


def not_mobile(e164: str) -> str | None:
    """What a valid number is when it is not a mobile one (``a landline``, ``a VoIP number``
    ...: one of :data:`NOT_MOBILE_KINDS`), else None."""
    try:
        number = phonenumbers.parse(e164, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    return _NOT_MOBILE.get(phonenumbers.number_type(number))


def try_normalize(raw: str) -> str | None:
    """The E.164 form, or None when `raw` is not a valid number (for search boxes)."""
    try:
        return normalize(raw)
    except InvalidInput:
        return None


def to_wa_id(e164: str) -> str:
    """WhatsApp's id form of an E.164 number: digits only, no `+`."""
    return e164.lstrip("+")


@functools.lru_cache(maxsize=WA_ID_CACHE)
def from_wa_id(wa_id: str) -> str | None:
    """The E.164 number behind a `wa_id`, or None when it is not a valid number.

    Cached: webhook ingestion asks for every message, mostly from the same senders, and the
    phone library takes ~60 µs a number (bench/README.md "Inbound at volume"). The answer
    depends only on the `wa_id` (and the library's tables, fixed for the process).
    """
    return try_normalize("+" + wa_id) if wa_id.isdigit() else None
