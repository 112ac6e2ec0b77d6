"""Migration 0014: leads opted in before it get the basis ``opt_in`` (with their source); the
others none; the do-not-contact table comes and goes; on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, inspect, text

from ovenai.db import downgrade, upgrade
from ovenai.engines import sync_url
from support.migrations import blank_url  # noqa: F401  (a fixture of this test)

AT = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
INSERT = text(
    "INSERT INTO leads (id, language, source, stage, engagement_score, created_at, updated_at,"
    " opted_in_at, opt_in_source, opted_out_at) VALUES (:id, 'he', 'manual', 'new', 0, :at, :at,"
    " :opted_in_at, :opt_in_source, NULL)"
)


def test_0014_gives_earlier_opt_ins_the_opt_in_basis(blank_url: str) -> None:  # noqa: F811
    upgrade(blank_url, "0013")
    engine = create_engine(sync_url(blank_url))
    with engine.begin() as conn:
        conn.execute(INSERT, {"id": "in", "at": AT, "opted_in_at": AT, "opt_in_source": "form"})
        conn.execute(INSERT, {"id": "none", "at": AT, "opted_in_at": None, "opt_in_source": None})

    upgrade(blank_url, "0014")

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, marketing_basis, marketing_basis_source,"
                " marketing_basis_at = opted_in_at FROM leads ORDER BY id"
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("in", "opt_in", "form", True),
        ("none", None, None, None),
    ]
    assert "do_not_contact" in inspect(engine).get_table_names()

    downgrade(blank_url, "0013")

    assert "do_not_contact" not in inspect(engine).get_table_names()
    columns = {column["name"] for column in inspect(engine).get_columns("leads")}
    assert "marketing_basis" not in columns
    engine.dispose()
