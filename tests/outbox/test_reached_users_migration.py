"""Migration 0003 moves the tier's reach rows out of rate_buckets and back, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, insert, inspect, select

from ovenai.db import downgrade, upgrade
from ovenai.engines import sync_url
from ovenai.models import RateBucket, ReachedUser

REACHED = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
LATER = REACHED + timedelta(hours=2)


def _bucket(name: str, at: datetime, tokens: float = 0.0) -> dict[str, Any]:
    return {"name": name, "tokens": tokens, "rate": 0.0, "capacity": 0.0, "updated_at": at}


def _buckets(engine: Engine) -> dict[str, tuple[float, datetime]]:
    with engine.connect() as conn:
        rows = conn.execute(select(RateBucket.name, RateBucket.tokens, RateBucket.updated_at))
        return {name: (tokens, at) for name, tokens, at in rows}


def _reached(engine: Engine) -> set[tuple[str, str, str, datetime]]:
    with engine.connect() as conn:
        return {tuple(row) for row in conn.execute(select(ReachedUser.__table__))}  # type: ignore[misc]


def test_0003_moves_reach_rows_into_their_table_and_back(blank_url: str) -> None:
    upgrade(blank_url, "0002")
    engine = create_engine(sync_url(blank_url))
    old = [
        _bucket("reach:200:lead-1", REACHED),
        _bucket("reach:200:lead-2", LATER),
        _bucket("tier:200", REACHED),  # the portfolio's lock row: no data
        _bucket("pair:lead-1", REACHED, tokens=3.0),
    ]
    with engine.begin() as conn:
        conn.execute(insert(RateBucket), old)

    upgrade(blank_url, "0003")

    assert _reached(engine) == {("200", "", "lead-1", REACHED), ("200", "", "lead-2", LATER)}
    assert _buckets(engine) == {"pair:lead-1": (3.0, REACHED)}
    with engine.begin() as conn:  # the same user from a second number, and a new one
        new = [("n2", "lead-1", LATER), ("n2", "lead-3", REACHED)]
        rows = [
            dict(portfolio="200", phone_number_id=n, lead_id=lead, reached_at=at)
            for n, lead, at in new
        ]
        conn.execute(insert(ReachedUser), rows)

    downgrade(blank_url, "0002")

    assert "reached_users" not in inspect(engine).get_table_names()
    assert _buckets(engine) == {
        "reach:200:lead-1": (0.0, LATER),  # its latest reach
        "reach:200:lead-2": (0.0, LATER),
        "reach:200:lead-3": (0.0, REACHED),
        "pair:lead-1": (3.0, REACHED),
    }
    upgrade(blank_url, "0003")
    assert len(_reached(engine)) == 3
    engine.dispose()
