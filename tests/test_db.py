"""The schema comes from migrations only, and goes both ways."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

from ovenai.db import downgrade, new_id, sync_url, upgrade
from ovenai.models import Base
from ovenai.settings import Settings


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    return names - {"alembic_version"}


def test_migrations_create_exactly_the_models_tables(settings: Settings) -> None:
    assert _tables(settings.database_url) == set(Base.metadata.tables)


def test_migrations_go_down_to_nothing_and_up_again(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    downgrade(url, "base")
    assert _tables(url) == set()
    upgrade(url)
    assert _tables(url) == set(Base.metadata.tables)


def test_ids_are_time_ordered_uuid7() -> None:
    ids = [new_id() for _ in range(1000)]
    assert all(value[14] == "7" for value in ids)
    assert len(set(ids)) == 1000
    assert ids[0] < ids[-1]
