"""Finding leads by a part of their phone number, with no digit stored in the clear.

A phone is sealed and found whole through one blind index (``leads.phone_index``), which a
part of a number cannot match. So each lead's phone also has blind-indexed *parts* in
``lead_phone_tokens``: every leading and every trailing run of 4 or more digits of the number
in international form (``972501234567``) and in national form (``0501234567``). Agents type
the start of a number (``050-123``, ``+972 50``) or its end (``4567``); both are one token.
A run in the middle of a number (``1234`` of ``050-1234-567``) is not found: storing every
substring would multiply the rows (and what equal tokens tell of numbers) for little use.

The tokens are written here, not by each writer of a phone (the API, imports, webhook
ingestion): :func:`refresh` tokenises, before a search, the leads whose tokens are missing or
were made from another phone (a token row keeps the phone index it was made from, and a search
matches only tokens of the lead's current phone). Tokens of an erased lead, or of a phone
cleared, are deleted then.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import cast

import phonenumbers
from sqlalchemy import ColumnElement, Row, Table, and_, delete, exists, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import phones
from ovenai.errors import InvalidInput
from ovenai.keystore import Vault
from ovenai.models import Lead, LeadPhoneToken
from ovenai.sealing import LEADS

PHONE_PART = "phone_part"
MIN_DIGITS = 4
TOO_SHORT = "a search by phone needs at least 4 digits"
_CHUNK = 500  # leads tokenised per statement
_NOT_PHONE = re.compile(r"[^\d\s+()./\-\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_TOKENS = cast(Table, LeadPhoneToken.__table__)
_Stale = Row[str, bytes | None, str | None]  # a lead's id, sealed phone, phone index


def is_phone_query(query: str) -> bool:
    """Whether a search looks like (a part of) a phone number: digits and separators only."""
    return any(ch.isdigit() for ch in query) and _NOT_PHONE.search(query) is None


def parts(e164: str) -> set[str]:
    """The digit runs stored for a number: leading and trailing runs of 4+ digits of its
    international and national forms."""
    number = phonenumbers.parse(e164)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    found: set[str] = set()
    for digits in {phones.to_wa_id(e164), re.sub(r"\D", "", national)}:
        for length in range(MIN_DIGITS, len(digits) + 1):
            found |= {digits[:length], digits[-length:]}
    return found


def query_digits(query: str) -> set[str]:
    """The digit runs a phone search looks for: its digits, and without a leading ``00``
    (``+`` dialled abroad; ``0012`` may also be a number's end); InvalidInput when there are
    fewer than 4 digits."""
    digits = re.sub(r"\D", "", query)
    if len(digits) < MIN_DIGITS:
        raise InvalidInput(TOO_SHORT, field="q")
    abroad = digits.removeprefix("00")
    return {digits, abroad} if len(abroad) >= MIN_DIGITS else {digits}


def matching(vault: Vault, query: str) -> ColumnElement[bool]:
    """Leads whose phone starts or ends with the query's digits (or is the query's number)."""
    tokens = [vault.index(PHONE_PART, digits) for digits in sorted(query_digits(query))]
    by_part = exists().where(
        LeadPhoneToken.lead_id == Lead.id,
        LeadPhoneToken.token.in_(tokens),
        LeadPhoneToken.phone_index == Lead.phone_index,
    )
    whole = phones.try_normalize(query)
    if whole is None:
        return by_part
    return or_(Lead.phone_index == vault.index("phone", whole), by_part)


async def refresh(session: AsyncSession, vault: Vault) -> None:
    """Tokenise the phones not tokenised yet (or changed since), drop the tokens of erased
    leads and of phones cleared, and commit. A concurrent refresh that wrote the same tokens
    first is no error."""
    blank = or_(Lead.phone_index.is_(None), Lead.erased_at.is_not(None))
    phoneless = select(Lead.id).where(blank)
    left = select(LeadPhoneToken.lead_id).where(LeadPhoneToken.lead_id.in_(phoneless)).limit(1)
    if await session.scalar(left) is not None:  # written only when needed (SQLite's one lock)
        gone = LeadPhoneToken.lead_id.in_(phoneless)
        await session.execute(delete(LeadPhoneToken).where(gone))
    current = exists().where(
        LeadPhoneToken.lead_id == Lead.id, LeadPhoneToken.phone_index == Lead.phone_index
    )
    query = select(Lead.id, Lead.phone_enc, Lead.phone_index).where(
        and_(Lead.phone_index.is_not(None), Lead.erased_at.is_(None), ~current)
    )
    stale = list((await session.execute(query)).all())
    try:
        for start in range(0, len(stale), _CHUNK):
            await _tokenise(session, vault, stale[start : start + _CHUNK])
        await session.commit()
    except IntegrityError:
        await session.rollback()


async def _tokenise(session: AsyncSession, vault: Vault, rows: Sequence[_Stale]) -> None:
    keys = await vault.surviving_lead_keys([lead_id for lead_id, _sealed, _index in rows])
    tokens: list[dict[str, str | None]] = []
    for lead_id, sealed, phone_index in rows:
        if lead_id not in keys:
            continue  # erased meanwhile: its key is gone, and so is its phone
        phone = LEADS.cipher(keys[lead_id], lead_id).open("phone", sealed)
        if not phone:
            continue
        for part in sorted(parts(phone)):
            token = vault.index(PHONE_PART, part)
            tokens.append({"lead_id": lead_id, "token": token, "phone_index": phone_index})
    ids = list(keys)
    await session.execute(delete(LeadPhoneToken).where(LeadPhoneToken.lead_id.in_(ids)))
    if tokens:
        await session.execute(insert(_TOKENS), tokens)
