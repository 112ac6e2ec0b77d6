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
matches only tokens of the lead's current phone; the lead keeps it too, ``phone_tokens_index``,
so an index of migration 0029 finds the leads to redo). Tokens of an erased lead, or of a
phone cleared, are deleted then.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import cast

import phonenumbers
from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)
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
_LEADS = cast(Table, Lead.__table__)
# A lead's id, sealed phone, phone index and erasure time
_Stale = Row[str, bytes | None, str | None, datetime | None]


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
    first is no error.

    The leads to redo are those whose ``phone_tokens_index`` (the phone their tokens were
    made from) differs from their ``phone_index``: an index finds them (migration 0029), so a
    refresh with nothing to do costs one look at an empty index, however many tokens there
    are. A lead whose phone changes again meanwhile stays marked for the next refresh.
    """
    stale_index = Lead.phone_index.is_distinct_from(Lead.phone_tokens_index)
    query = select(Lead.id, Lead.phone_enc, Lead.phone_index, Lead.erased_at).where(stale_index)
    stale = list((await session.execute(query)).all())
    if not stale:
        return
    try:
        for start in range(0, len(stale), _CHUNK):
            await _tokenise(session, vault, stale[start : start + _CHUNK])
        await session.commit()
    except IntegrityError:
        await session.rollback()


async def _tokenise(session: AsyncSession, vault: Vault, rows: Sequence[_Stale]) -> None:
    live = [row for row in rows if row.phone_index is not None and row.erased_at is None]
    keys = await vault.surviving_lead_keys([row.id for row in live])
    tokens: list[dict[str, str | None]] = []
    made: dict[str, str | None] = {row.id: None for row in rows}  # lead: its tokens' phone
    for lead_id, sealed, phone_index, _erased in live:
        if lead_id not in keys:
            continue  # erased meanwhile: its key is gone, and so is its phone
        phone = LEADS.cipher(keys[lead_id], lead_id).open("phone", sealed)
        if not phone:
            continue
        made[lead_id] = phone_index
        for part in sorted(parts(phone)):
            token = vault.index(PHONE_PART, part)
            tokens.append({"lead_id": lead_id, "token": token, "phone_index": phone_index})
    ids = list(made)
    await session.execute(delete(LeadPhoneToken).where(LeadPhoneToken.lead_id.in_(ids)))
    if tokens:
        await session.execute(insert(_TOKENS), tokens)
    # Marked done only for the phone read above: one changed since stays stale. The table's
    # own UPDATE, so that the lead's updated_at (the ORM's onupdate) does not move.
    done = (
        update(_LEADS)
        .where(
            _LEADS.c.id == bindparam("lead"),
            _LEADS.c.phone_index.is_not_distinct_from(bindparam("read")),
        )
        .values(phone_tokens_index=bindparam("made"))
    )
    read = {row.id: row.phone_index for row in rows}
    await session.execute(
        done,
        [
            {"lead": lead_id, "read": read[lead_id], "made": index}
            for lead_id, index in made.items()
        ],
    )
