"""Migration 0018: the sealed e-mail column and its blind index come and go, on both databases,
and the leads stored before keep their rows."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from ovenai.db import downgrade, upgrade
from ovenai.engines import sync_url
from support.migrations import blank_url  # noqa: F401  (a fixture of this test)

INSERT = text(
    "INSERT INTO leads (id, language, source, stage, engagement_score, created_at, updated_at)"
    " VALUES ('kept', 'he', 'manual', 'new', 0, '2026-12-01 10:00:00+00',"
    " '2026-12-01 10:00:00+00')"
)


def test_0018_adds_the_email_columns_and_its_downgrade_drops_them(
    blank_url: str,  # noqa: F811
) -> None:
    upgrade(blank_url, "0017")
    engine = create_engine(sync_url(blank_url))
    with engine.begin() as conn:
        conn.execute(INSERT)

    upgrade(blank_url, "0018")

    columns = {column["name"] for column in inspect(engine).get_columns("leads")}
    assert {"email_enc", "email_index"} <= columns
    indexes = {index["name"] for index in inspect(engine).get_indexes("leads")}
    assert "ix_leads_email_index" in indexes
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, email_enc FROM leads")).all() == [("kept", None)]

    downgrade(blank_url, "0017")

    inspector = inspect(engine)
    columns = {column["name"] for column in inspector.get_columns("leads")}
    assert not {"email_enc", "email_index"} & columns
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM leads")).scalars().all() == ["kept"]
    engine.dispose()
