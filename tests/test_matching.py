"""Property↔lead matching (ovenai.matching) on a real database: each criterion (city under
any spelling, area, rooms, size, budget with its tolerance), a lead with no criteria, closed
stages, which leads an agent's match reaches, and the order of the matches."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection
from decimal import Decimal

import pytest
from sqlalchemy import update

from ovenai import auth, matching
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import NotFound
from ovenai.lead_fields import LeadCreate
from ovenai.leads import create_lead
from ovenai.matching import Criterion
from ovenai.models import Lead, Role, Stage
from ovenai.properties import PropertyCreate, create_property

pytestmark = pytest.mark.anyio
SYSTEM = Actor.system()


async def _lead(db: Database, name: str, phone: str, **fields: object) -> str:
    data = LeadCreate.model_validate({"name": name, "phone": phone, **fields})
    return (await create_lead(db, actor=SYSTEM, data=data)).id


async def _flat(db: Database, **fields: object) -> str:
    values = {"city": "תל אביב", "rooms": "4", "size_m2": 95, "price": 2_000_000, **fields}
    prop = await create_property(db, actor=SYSTEM, data=PropertyCreate.model_validate(values))
    return prop.id


def _criteria(checks: tuple[matching.Check, ...]) -> set[Criterion]:
    return {check.criterion for check in checks}


async def test_a_lead_matches_when_every_criterion_it_gave_holds_and_says_why(db: Database) -> None:
    flat = await _flat(db, area="פלורנטין")
    fits = await _lead(
        db,
        "יעל כהן",
        "050-111-0001",
        want_city="Tel-Aviv",  # another spelling of the same town
        want_area="פלורנטין",
        want_rooms_min="3.5",
        want_rooms_max="4.5",
        want_size_min=90,
        want_budget_max=2_100_000,
    )
    city_only = await _lead(db, "אבי לוי", "050-111-0002", want_city="תל אביב")
    found = await matching.matches_for(db, actor=SYSTEM, property_id=flat)
    assert [match.lead.id for match in found.matches] == [fits, city_only]  # more criteria first
    best = found.matches[0]
    assert best.lead.name == "יעל כהן"  # decrypted for the page and the campaigns
    assert _criteria(best.reasons) == {
        Criterion.CITY,
        Criterion.AREA,
        Criterion.ROOMS,
        Criterion.SIZE,
        Criterion.BUDGET,
    }
    by = {check.criterion: check for check in best.reasons}
    assert (by[Criterion.ROOMS].wanted, by[Criterion.ROOMS].offered) == ("3.5–4.5", "4")
    assert (by[Criterion.BUDGET].wanted, by[Criterion.BUDGET].offered) == (
        "≤ 2,100,000",
        "2,000,000",
    )
    assert not by[Criterion.BUDGET].within_tolerance
    assert _criteria(found.matches[1].reasons) == {Criterion.CITY}
    assert found.excluded == []


async def test_each_criterion_that_fails_excludes_the_lead_with_its_reason(db: Database) -> None:
    flat = await _flat(db, area="פלורנטין")
    cases = {
        Criterion.CITY: {"want_city": "חיפה"},
        Criterion.AREA: {"want_area": "הצפון הישן"},
        Criterion.ROOMS: {"want_rooms_min": "5"},
        Criterion.SIZE: {"want_size_min": 120},
        Criterion.BUDGET: {"want_budget_max": 1_500_000},
    }
    ids = {}
    for n, (criterion, wants) in enumerate(cases.items()):
        ids[await _lead(db, f"Lead {n}", f"050-222-000{n}", **wants)] = criterion
    both = await _lead(db, "Two reasons", "050-222-0009", want_city="חיפה", want_rooms_max="3")
    found = await matching.matches_for(db, actor=SYSTEM, property_id=flat)
    assert found.matches == []
    reasons = {exclusion.lead_id: exclusion.reasons for exclusion in found.excluded}
    for lead_id, criterion in ids.items():
        assert _criteria(reasons[lead_id]) == {criterion}
        assert all(not check.passed for check in reasons[lead_id])
    assert _criteria(reasons[both]) == {Criterion.CITY, Criterion.ROOMS}


async def test_the_budget_holds_within_its_tolerance_at_either_end(db: Database) -> None:
    flat = await _flat(db, price=2_150_000)
    stretched = await _lead(db, "Stretch", "050-333-0001", want_budget_max=2_000_000)  # 7.5 %
    too_far = await _lead(db, "Too far", "050-333-0002", want_budget_max=1_900_000)  # 13 %
    at_edge = await _lead(db, "Edge", "050-333-0003", want_budget_max=1_954_546)  # 10 % - ε
    above_floor = await _lead(db, "Floor", "050-333-0004", want_budget_min=2_300_000)  # -6.5 %
    far_floor = await _lead(db, "Far floor", "050-333-0005", want_budget_min=2_500_000)
    found = await matching.matches_for(db, actor=SYSTEM, property_id=flat)
    matched = {match.lead.id: match for match in found.matches}
    assert set(matched) == {stretched, at_edge, above_floor}
    assert all(match.reasons[0].within_tolerance for match in matched.values())
    assert {exclusion.lead_id for exclusion in found.excluded} == {too_far, far_floor}
    strict = await matching.matches_for(db, actor=SYSTEM, property_id=flat, tolerance=Decimal("0"))
    assert strict.matches == []
    wide = await matching.matches_for(db, actor=SYSTEM, property_id=flat, tolerance=Decimal("0.20"))
    assert len(wide.matches) == 5


async def test_a_lead_with_no_criteria_is_excluded_not_matched_with_everything(
    db: Database,
) -> None:
    flat = await _flat(db)
    blank = await _lead(db, "No wishes", "050-444-0001")
    found = await matching.matches_for(db, actor=SYSTEM, property_id=flat)
    assert found.matches == []
    (exclusion,) = found.excluded
    assert exclusion.lead_id == blank and _criteria(exclusion.reasons) == {Criterion.CRITERIA}


async def test_criteria_the_listing_gives_no_value_for_are_not_held_against_a_lead(
    db: Database,
) -> None:
    bare = await create_property(
        db, actor=SYSTEM, data=PropertyCreate.model_validate({"city": "חיפה"})
    )
    city_and_budget = await _lead(
        db, "City and budget", "050-555-0001", want_city="Haifa", want_budget_max=1_000_000
    )
    budget_only = await _lead(db, "Budget only", "050-555-0002", want_budget_max=1_000_000)
    found = await matching.matches_for(db, actor=SYSTEM, property_id=bare.id)
    (match,) = found.matches
    assert match.lead.id == city_and_budget and _criteria(match.reasons) == {Criterion.CITY}
    (exclusion,) = found.excluded  # nothing could be compared: not a match
    assert exclusion.lead_id == budget_only
    assert _criteria(exclusion.reasons) == {Criterion.CRITERIA}


async def test_closed_stages_are_excluded_unless_asked_for(db: Database) -> None:
    flat = await _flat(db)
    won = await _lead(db, "Bought", "050-666-0001", want_city="תל אביב", stage="won")
    open_ = await _lead(db, "Looking", "050-666-0002", want_city="תל אביב", stage="negotiation")
    found = await matching.matches_for(db, actor=SYSTEM, property_id=flat)
    assert [match.lead.id for match in found.matches] == [open_]
    (exclusion,) = found.excluded
    assert exclusion.lead_id == won and _criteria(exclusion.reasons) == {Criterion.STAGE}
    every = await matching.matches_for(db, actor=SYSTEM, property_id=flat, stages={"won"})
    assert [match.lead.id for match in every.matches] == [won]


async def test_an_agent_matches_only_the_leads_they_may_see(db: Database) -> None:
    flat = await _flat(db)
    dana = await auth.create_user(db, email="dana@agency.co.il", role=Role.AGENT)
    avi = await auth.create_user(db, email="avi@agency.co.il", role=Role.AGENT)
    hers = await _lead(db, "Hers", "050-777-0001", want_city="תל אביב", assigned_agent_id=dana.id)
    await _lead(db, "His", "050-777-0002", want_city="תל אביב", assigned_agent_id=avi.id)
    free = await _lead(db, "Unassigned", "050-777-0003", want_city="תל אביב")
    actor = Actor(user_id=dana.id, role=Role.AGENT, email=dana.email)
    found = await matching.matches_for(db, actor=actor, property_id=flat)
    assert {match.lead.id for match in found.matches} == {hers, free}
    assert found.excluded == []


async def test_no_such_property_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        await matching.matches_for(
            db, actor=SYSTEM, property_id="01930000-0000-7000-8000-000000000000"
        )


PRICES = (2_000_000, 2_200_000, 1_818_182)
BUDGETS = (  # each price, and just inside and just outside each one's tolerances
    1_000_000,
    1_652_892,
    1_652_893,
    1_818_181,
    1_818_182,
    1_818_183,
    2_000_000,
    2_020_202,
    2_020_203,
    2_200_000,
    2_222_222,
    2_222_223,
    2_444_444,
    2_444_445,
    3_000_000,
)
CITIES = ("תל אביב", "Tel-Aviv", " tel aviv ", "TEL AVIV", "חיפה", "Haifa", "ירושלים", "Atlantis")
AREAS = ("פלורנטין", " פלורנטין", "הצפון הישן", "רחביה", "Nowhere")
ROOMS = ("2.5", "3", "3.5", "4", "4.5", "5")


def _wishes(rng: random.Random) -> dict[str, object]:
    """A lead's criteria, each given or not, ranges the right way round."""
    given: dict[str, object] = {"stage": rng.choice(list(Stage))}
    if rng.random() < 0.6:
        given["want_city"] = rng.choice(CITIES)
    if rng.random() < 0.3:
        given["want_area"] = rng.choice(AREAS)
    rooms = sorted(rng.sample(ROOMS, 2), key=Decimal)
    if rng.random() < 0.4:
        given["want_rooms_min"] = rooms[0]
    if rng.random() < 0.4:
        given["want_rooms_max"] = rooms[1]
    if rng.random() < 0.3:
        given["want_size_min"] = rng.choice((60, 80, 95, 96, 120))
    budget = sorted(rng.sample(BUDGETS, 2))
    if rng.random() < 0.5:
        given["want_budget_min"] = budget[0]
    if rng.random() < 0.5:
        given["want_budget_max"] = budget[1]
    return given


async def test_the_listing_pages_sql_match_gives_what_the_rule_gives_on_varied_data(
    db: Database,
) -> None:
    """summary_for (SQL) against matches_for (every lead checked in Python): the same
    matches in the same order with the same reasons, and the same exclusions counted."""
    rng = random.Random(16)
    dana = await auth.create_user(db, email="dana@agency.co.il", role=Role.AGENT)
    avi = await auth.create_user(db, email="avi@agency.co.il", role=Role.AGENT)
    ids = []
    for n in range(160):
        given = _wishes(rng)
        given["assigned_agent_id"] = rng.choice((dana.id, avi.id, None))
        ids.append(await _lead(db, f"Lead {n}", f"050-{n:03d}-{n + 1000:04d}", **given))
    async with db.session() as session:  # what a form never writes, the database may hold
        await session.execute(update(Lead).where(Lead.id.in_(ids[:4])).values(want_city=""))
        await session.execute(update(Lead).where(Lead.id.in_(ids[4:7])).values(want_area=""))
        await session.execute(update(Lead).where(Lead.id.in_(ids[7:10])).values(erased_at=utcnow()))
        await session.commit()
    flats = [
        await _flat(db, area="פלורנטין", price=PRICES[0]),
        await _flat(db, city="Haifa", rooms=None, size_m2=None, price=PRICES[1]),
        await _flat(db, city="ירושלים", area="רחביה", rooms="3.5", size_m2=80, price=None),
        await _flat(db, city="Tel Aviv", area="Nowhere", rooms="5", price=PRICES[2]),
        await _flat(db, city="Eilat", rooms=None, size_m2=None, price=None),
    ]
    actors = [SYSTEM, Actor(user_id=dana.id, role=Role.AGENT, email=dana.email)]
    variants: list[tuple[Decimal, Collection[str]]] = [
        (matching.BUDGET_TOLERANCE, matching.OPEN_STAGES),
        (Decimal("0"), matching.OPEN_STAGES),
        (Decimal("0.25"), {"won", "lost"}),
        (Decimal("0.15"), set(Stage)),
        (Decimal("0.10"), set()),
    ]
    matched = 0
    for flat in flats:
        for actor in actors:
            for tolerance, stages in variants:
                rule = await matching.matches_for(
                    db, actor=actor, property_id=flat, tolerance=tolerance, stages=stages
                )
                sql = await matching.summary_for(
                    db, actor=actor, property_id=flat, tolerance=tolerance, stages=stages
                )
                assert [(m.lead, m.reasons) for m in sql.matches] == [
                    (m.lead, m.reasons) for m in rule.matches
                ]
                assert sql.excluded_leads == len(rule.excluded)
                counted = Counter(c.criterion for e in rule.excluded for c in e.reasons)
                assert Counter(sql.failed).most_common() == counted.most_common()
                matched += len(sql.matches)
    assert matched > 100  # the data matched often enough to say something


async def test_the_summary_of_no_such_property_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        await matching.summary_for(
            db, actor=SYSTEM, property_id="01930000-0000-7000-8000-000000000000"
        )
