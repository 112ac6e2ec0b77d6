"""Which leads a listing suits: the property↔lead criteria match, each lead with why.

A lead's criteria are the ``want_*`` columns (city, area, rooms, size, budget). A lead
matches a property when every criterion the lead gave holds for it; a criterion the lead
left empty is not checked, and neither is one the property gives no value for (a listing
without a price can still be offered by its city and rooms: the agent is told what was
checked). A lead who gave no criterion at all is excluded rather than matched with
everything, since the property-match campaigns (issue 17) must not write to every lead.
Leads at a closed stage (won, lost) are excluded too.

Cities are compared as places are (:mod:`ovenai.places`): "Tel Aviv", "תל-אביב" and
"תל אביב" are one town. The budget is compared with a tolerance
(:data:`BUDGET_TOLERANCE`, 10 % by default): a lead whose ceiling is 2,000,000 is shown a
flat of 2,150,000, marked as over budget within the tolerance, since buyers stretch.

Only the criteria columns (stored in clear) are read for every lead; the names of the
matching leads alone are decrypted, so a listing is matched against many leads cheaply.

:func:`matches_for` gives every lead the actor may see with its reasons (the API's answer);
:func:`summary_for` (the listing's page) asks the database for the matching leads and how
many fail each criterion instead: the same rule written in SQL (:func:`_sql_checks`), the
places compared by :mod:`ovenai.places` on the few distinct spellings the leads wrote, and
each lead the database returns checked again by :func:`check_lead`, so the leads and the
reasons are those :func:`matches_for` gives (tests/test_matching.py compares both on varied
data).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, false, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import places
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.errors import NotFound
from ovenai.leads import CLOSED_STAGES, LeadRecord, open_leads, visible_to
from ovenai.models import Lead, Property, Stage

BUDGET_TOLERANCE = Decimal("0.10")
"""How far a price may pass a lead's budget (either end) and still match: a fraction."""
OPEN_STAGES: frozenset[Stage] = frozenset(Stage) - CLOSED_STAGES
_CHUNK = 500  # ids per IN list when loading the matching leads


class Criterion(StrEnum):
    """What is compared between a lead and a property."""

    STAGE = "stage"
    CRITERIA = "criteria"  # the lead gave none
    CITY = "city"
    AREA = "area"
    ROOMS = "rooms"
    SIZE = "size"
    BUDGET = "budget"


@dataclass(frozen=True)
class Check:
    """One criterion compared: what the lead wants, what the property offers, whether it
    holds, and for the budget whether it holds only thanks to the tolerance."""

    criterion: Criterion
    passed: bool
    wanted: str | None
    offered: str | None
    within_tolerance: bool = False


@dataclass(frozen=True)
class Match:
    """A lead the property suits, and the criteria that hold (why it matches)."""

    lead: LeadRecord
    reasons: tuple[Check, ...]


@dataclass(frozen=True)
class Exclusion:
    """A lead the property does not suit, and the criteria that fail (why not)."""

    lead_id: str
    reasons: tuple[Check, ...]


@dataclass(frozen=True)
class Matches:
    """A property's matching leads (best first) and the others with their reasons."""

    property_id: str
    tolerance: Decimal
    matches: list[Match]
    excluded: list[Exclusion]


@dataclass(frozen=True)
class Summary:
    """A property's matching leads (best first, as :class:`Matches` has them) and, of the
    other leads, how many there are and how many fail each criterion; ``failed`` in the order
    a walk through :attr:`Matches.excluded` meets each criterion first (ties of
    :meth:`collections.Counter.most_common` fall as they did over that list)."""

    property_id: str
    tolerance: Decimal
    matches: list[Match]
    excluded_leads: int
    failed: dict[Criterion, int]


def _range(low: Any, high: Any) -> str | None:
    """A wanted range as numbers alone (read the same in Hebrew and English)."""
    if low is None and high is None:
        return None
    if high is None:
        return f"≥ {low}"
    if low is None:
        return f"≤ {high}"
    return f"{low}–{high}" if low != high else str(low)


def _same_place(wanted: str, offered: str) -> bool:
    if wanted.strip().casefold() == offered.strip().casefold():
        return True
    town = places.town_named(wanted)
    return town is not None and town == places.town_named(offered)


def _money(value: int | None) -> str | None:
    """An amount as Israelis write it: 2,150,000."""
    return None if value is None else f"{value:,}"


def _budget(row: Any, price: int, tolerance: Decimal) -> Check:
    low, high = row.want_budget_min, row.want_budget_max
    wanted = _range(_money(low), _money(high))
    stretched = False
    if high is not None and price > high:
        stretched = Decimal(price) <= Decimal(high) * (1 + tolerance)
        if not stretched:
            return Check(Criterion.BUDGET, False, wanted, _money(price))
    if low is not None and price < low:
        if Decimal(price) < Decimal(low) * (1 - tolerance):
            return Check(Criterion.BUDGET, False, wanted, _money(price))
        stretched = True
    return Check(Criterion.BUDGET, True, wanted, _money(price), within_tolerance=stretched)


def _rooms(value: Decimal | None) -> str | None:
    """Rooms as people write them: 3 or 3.5."""
    return None if value is None else f"{value.normalize():f}"


def check_lead(
    prop: Property,
    row: Any,
    *,
    tolerance: Decimal = BUDGET_TOLERANCE,
    stages: Collection[str] = OPEN_STAGES,
) -> list[Check]:
    """Every criterion of one lead compared with the property (``row`` has the lead's
    ``stage`` and ``want_*`` attributes: a Lead, a LeadRecord or a selected row). The lead
    matches when each check passed and there is at least one besides its stage."""
    checks: list[Check] = []
    if row.stage not in stages:
        checks.append(Check(Criterion.STAGE, False, None, row.stage))
    gave = [
        row.want_city,
        row.want_area,
        row.want_rooms_min,
        row.want_rooms_max,
        row.want_size_min,
        row.want_budget_min,
        row.want_budget_max,
    ]
    if all(value is None for value in gave):
        checks.append(Check(Criterion.CRITERIA, False, None, None))
        return checks
    if row.want_city and prop.city:
        checks.append(
            Check(Criterion.CITY, _same_place(row.want_city, prop.city), row.want_city, prop.city)
        )
    if row.want_area and prop.area:
        checks.append(
            Check(Criterion.AREA, _same_place(row.want_area, prop.area), row.want_area, prop.area)
        )
    low, high = row.want_rooms_min, row.want_rooms_max
    if (low is not None or high is not None) and prop.rooms is not None:
        fits = (low is None or prop.rooms >= low) and (high is None or prop.rooms <= high)
        wanted = _range(_rooms(low), _rooms(high))
        checks.append(Check(Criterion.ROOMS, fits, wanted, _rooms(prop.rooms)))
    if row.want_size_min is not None and prop.size_m2 is not None:
        fits = prop.size_m2 >= row.want_size_min
        wanted = _range(row.want_size_min, None)
        checks.append(Check(Criterion.SIZE, fits, wanted, str(prop.size_m2)))
    budget_given = row.want_budget_min is not None or row.want_budget_max is not None
    if budget_given and prop.price is not None:
        checks.append(_budget(row, prop.price, tolerance))
    if not any(check.criterion is not Criterion.STAGE for check in checks):
        # Only criteria the property gives no value for: nothing says it suits the lead.
        checks.append(Check(Criterion.CRITERIA, False, None, None))
    return checks


def _rank(match: Match) -> tuple[int, int, int, str]:
    """Best first: more criteria held, fewer held only by tolerance, higher score."""
    stretched = sum(check.within_tolerance for check in match.reasons)
    return (-len(match.reasons), stretched, -match.lead.engagement_score, match.lead.id)


CRITERIA_COLUMNS = (  # what a lead's match is decided on (campaigns select them too)
    Lead.id,
    Lead.stage,
    Lead.want_city,
    Lead.want_area,
    Lead.want_rooms_min,
    Lead.want_rooms_max,
    Lead.want_size_min,
    Lead.want_budget_min,
    Lead.want_budget_max,
)


async def matches_for(
    db: Database,
    *,
    actor: Actor,
    property_id: str,
    tolerance: Decimal = BUDGET_TOLERANCE,
    stages: Collection[str] = OPEN_STAGES,
) -> Matches:
    """The leads the actor may see whose criteria the property meets, best first, each with
    the criteria that hold; every other lead the actor may see with those that fail.

    NotFound when there is no such property. ``stages`` are the stages a matching lead may
    be at (the open ones by default); ``tolerance`` the budget's (a fraction).
    """
    async with db.session() as session:
        prop = await session.get(Property, property_id)
        if prop is None:
            raise NotFound(f"no property {property_id}")
        rows = (await session.execute(select(*CRITERIA_COLUMNS).where(visible_to(actor)))).all()
        passed: dict[str, tuple[Check, ...]] = {}
        excluded: list[Exclusion] = []
        for row in rows:
            checks = check_lead(prop, row, tolerance=tolerance, stages=stages)
            if all(check.passed for check in checks):
                passed[row.id] = tuple(checks)
            else:
                failed = tuple(check for check in checks if not check.passed)
                excluded.append(Exclusion(row.id, failed))
        found = await _load(session, list(passed))
    records = await open_leads(db.vault, found)
    matches = sorted((Match(lead, passed[lead.id]) for lead in records), key=_rank)
    excluded.sort(key=lambda exclusion: exclusion.lead_id, reverse=True)
    return Matches(property_id, tolerance, matches, excluded)


_ORDER = tuple(Criterion)  # a lead's failed checks come in this order (check_lead)


def _given(column: Any) -> ColumnElement[bool]:
    """A place the lead wrote: neither NULL nor empty (as ``if row.want_city`` reads it)."""
    return and_(column.is_not(None), column != "")


def _sql_checks(
    prop: Property,
    tolerance: Decimal,
    stages: Collection[str],
    cities: Sequence[str],
    areas: Sequence[str],
) -> dict[Criterion, ColumnElement[bool]]:
    """:func:`check_lead` in SQL: for each criterion, whether a lead row fails it (never
    NULL), given the spellings of the property's city and area the leads wrote that
    :func:`_same_place` accepts (``cities``, ``areas``). The budget's tolerance is compared
    in whole numbers (over a ceiling when ``max·(q+p) < price·q`` for a tolerance of p/q),
    never in floating point."""
    low, high = Lead.want_rooms_min, Lead.want_rooms_max
    applied: dict[Criterion, tuple[ColumnElement[bool], ColumnElement[bool]]] = {}
    if prop.city:
        applied[Criterion.CITY] = (_given(Lead.want_city), Lead.want_city.not_in(cities))
    if prop.area:
        applied[Criterion.AREA] = (_given(Lead.want_area), Lead.want_area.not_in(areas))
    if prop.rooms is not None:
        applied[Criterion.ROOMS] = (
            or_(low.is_not(None), high.is_not(None)),
            or_(
                and_(low.is_not(None), low > prop.rooms), and_(high.is_not(None), high < prop.rooms)
            ),
        )
    if prop.size_m2 is not None:
        size = Lead.want_size_min
        applied[Criterion.SIZE] = (size.is_not(None), and_(size.is_not(None), size > prop.size_m2))
    if prop.price is not None:
        p, q = tolerance.as_integer_ratio()
        most = cast(Lead.want_budget_max, BigInteger)
        least = cast(Lead.want_budget_min, BigInteger)
        applied[Criterion.BUDGET] = (
            or_(most.is_not(None), least.is_not(None)),
            or_(
                and_(most.is_not(None), most < prop.price, most * (q + p) < prop.price * q),
                and_(least.is_not(None), least > prop.price, least * (q - p) > prop.price * q),
            ),
        )
    gave = or_(*(column.is_not(None) for column in CRITERIA_COLUMNS[2:]))  # any want_*
    compared = or_(false(), *(applies for applies, _fails in applied.values()))
    return {
        Criterion.STAGE: Lead.stage.not_in(list(stages)),
        Criterion.CRITERIA: not_(and_(gave, compared)),  # none given, or none comparable
        **{criterion: and_(applies, fails) for criterion, (applies, fails) in applied.items()},
    }


async def summary_for(
    db: Database,
    *,
    actor: Actor,
    property_id: str,
    tolerance: Decimal = BUDGET_TOLERANCE,
    stages: Collection[str] = OPEN_STAGES,
) -> Summary:
    """The leads :func:`matches_for` matches, in its order with its reasons, and how many of
    its excluded leads fail each criterion; the database filters and counts (three
    statements), and only the matching leads are read whole and decrypted."""
    async with db.session() as session:
        prop = await session.get(Property, property_id)
        if prop is None:
            raise NotFound(f"no property {property_id}")
        cities: list[str] = []
        areas: list[str] = []
        if prop.city or prop.area:
            wrote = select(Lead.want_city, Lead.want_area).where(visible_to(actor)).distinct()
            for city, area in (await session.execute(wrote)).all():
                if prop.city and city and _same_place(city, prop.city):
                    cities.append(city)
                if prop.area and area and _same_place(area, prop.area):
                    areas.append(area)
        checks = _sql_checks(prop, tolerance, stages, sorted(set(cities)), sorted(set(areas)))
        fails = list(checks.values())
        counted = select(
            func.count(),
            *(func.sum(case((failing, 1), else_=0)) for failing in fails),
            *(func.max(case((failing, Lead.id))) for failing in fails),
        ).where(visible_to(actor))
        total, *rest = (await session.execute(counted)).one()
        number, last = rest[: len(fails)], rest[len(fails) :]
        query = select(Lead).where(visible_to(actor), not_(or_(*fails)))
        rows = list(await session.scalars(query))
    passed: dict[str, tuple[Check, ...]] = {}
    for row in rows:  # the database's answer held to the rule itself
        found = check_lead(prop, row, tolerance=tolerance, stages=stages)
        if all(check.passed for check in found):
            passed[row.id] = tuple(found)
    records = await open_leads(db.vault, [row for row in rows if row.id in passed])
    matches = sorted((Match(lead, passed[lead.id]) for lead in records), key=_rank)
    seen = sorted(
        (
            (str(at), -_ORDER.index(criterion), criterion, int(count or 0))
            for criterion, count, at in zip(checks, number, last, strict=True)
            if count
        ),
        reverse=True,
    )
    failed = {criterion: count for _at, _order, criterion, count in seen}
    return Summary(property_id, tolerance, matches, int(total) - len(matches), failed)


async def _load(session: AsyncSession, ids: Sequence[str]) -> list[Lead]:
    leads: list[Lead] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        leads += list(await session.scalars(select(Lead).where(Lead.id.in_(chunk))))
    return leads
