"""Schema rollback: undo migrations, and say exactly what the undoing discarded.

A downgrade undoes a migration: the tables it created and the columns it added go, with
whatever they held (docs/operations.md "Rollback": back the database up first). Everything
else stays as it was. :func:`downgrade` measures the schema and its data before and after
(row counts per table, filled values per column) and reports what went, so the operator sees
the cost, and ``tests/test_migrations_roundtrip.py`` proves nothing else moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alembic.script import ScriptDirectory
from sqlalchemy import column as sql_column
from sqlalchemy import create_engine, func, inspect, pool, select, table, text
from sqlalchemy.exc import SQLAlchemyError

from ovenai import db
from ovenai.engines import sync_url
from ovenai.errors import InvalidInput

VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class TableData:
    """One table: its rows, and how many rows fill each column (non-NULL)."""

    rows: int
    filled: dict[str, int]


Snapshot = dict[str, TableData]


@dataclass(frozen=True)
class DowngradeReport:
    """Where the schema was, where it is, and what the downgrade discarded."""

    before: str | None
    after: str | None
    discarded: list[str] = field(default_factory=list)


def revisions() -> list[str]:
    """Every migration of the data database, oldest first (read from migrations/versions)."""
    script = ScriptDirectory(str(db.MIGRATIONS_DIR))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def head() -> str:
    """The newest migration."""
    return revisions()[-1]


def current(url: str) -> str | None:
    """The database's revision (None: no migration applied)."""
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(VERSION_TABLE):
                return None
            found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
            return found.scalar_one_or_none()
    finally:
        engine.dispose()


def snapshot(url: str) -> Snapshot:
    """Every table's row count and filled values per column (the migration table aside)."""
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    taken: Snapshot = {}
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            for name in sorted(inspector.get_table_names()):
                if name == VERSION_TABLE:
                    continue
                columns = [c["name"] for c in inspector.get_columns(name)]
                subject = table(name, *(sql_column(c) for c in columns))
                counts = [func.count()] + [func.count(subject.c[c]) for c in columns]
                row = connection.execute(select(*counts).select_from(subject)).one()
                taken[name] = TableData(
                    rows=int(row[0]),
                    filled={c: int(n) for c, n in zip(columns, row[1:], strict=True)},
                )
    finally:
        engine.dispose()
    return taken


def discarded(before: Snapshot, after: Snapshot) -> list[str]:
    """What held data before and is gone after: tables (their rows) and columns (values)."""
    lost: list[str] = []
    for name, was in before.items():
        now = after.get(name)
        if now is None:
            lost.append(f"table {name} ({was.rows} rows)")
            continue
        if now.rows < was.rows:
            lost.append(f"{was.rows - now.rows} rows of {name}")
        for column, filled in was.filled.items():
            if column not in now.filled:
                lost.append(f"column {name}.{column} ({filled} values)")
            elif now.filled[column] < filled:
                lost.append(f"{filled - now.filled[column]} values of {name}.{column}")
    return lost


def downgrade(url: str, revision: str = "-1") -> DowngradeReport:
    """Undo migrations down to ``revision`` (an id, ``-1`` for one step, ``base``)."""
    before_rev = current(url)
    if before_rev is None:
        raise InvalidInput("the database has no migration applied: nothing to undo", field="rev")
    known = revisions()
    if revision not in known and revision != "base" and not _relative(revision):
        raise InvalidInput(
            f"unknown revision {revision}: give one of {', '.join(known)}, -N or base",
            field="rev",
        )
    if revision in known and known.index(revision) > known.index(before_rev):
        raise InvalidInput(
            f"{revision} is newer than the database's {before_rev}: use `ovenai db upgrade`",
            field="rev",
        )
    before = snapshot(url)
    try:
        db.downgrade(url, revision)
    except SQLAlchemyError as exc:
        raise InvalidInput(f"the downgrade failed: {exc.__class__.__name__}", field="rev") from exc
    return DowngradeReport(before_rev, current(url), discarded(before, snapshot(url)))


def _relative(revision: str) -> bool:
    return revision.startswith("-") and revision[1:].isdigit()
