"""Statements about many rows that keep one SQL text whatever the number of rows.

A list compared with ``IN (...)`` is expanded into one placeholder per value, so every batch
size gives a statement text of its own: SQLAlchemy coerces each value again, and psycopg
parses each new text in Python (its cache keeps short statements only), which was a sixth
of the webhook processor's CPU on PostgreSQL (bench/README.md "Inbound at volume"). On
PostgreSQL the list is therefore bound as ONE array parameter (``= ANY(%(ids)s)``): the text
never changes, psycopg converts it once and the server prepares it. SQLite keeps ``IN`` with
an expanding parameter (its statements are parsed in C, and it has no arrays).

The statements are built once per dialect (``functools.cache`` on a builder taking
:func:`postgresql`), so no batch pays for building and hashing them either. Rows are
inserted and updated the same way on PostgreSQL, each column bound as one array
(:func:`insert_many`, :func:`update_many`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects


def postgresql(session: AsyncSession) -> bool:
    """Whether the session's statements are PostgreSQL's (else SQLite's)."""
    return dialects.is_postgresql(session)


async def insert_many(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]], *, skip_taken: bool
) -> None:
    """Insert rows that all have the same keys; ``skip_taken``: a row whose key is taken
    already is left out (ON CONFLICT DO NOTHING).

    PostgreSQL takes each column as one array (``INSERT ... SELECT * FROM unnest(...)``): one
    statement of one text, where an executemany sends and answers a statement a row. For
    short rows of plain values (the links and tokens of a batch), not for rows of sealed
    bytes, whose arrays cost more to build than the rows do to send.
    """
    if not rows:
        return
    columns = tuple(rows[0])
    if not postgresql(session):
        inserting = dialects.insert("sqlite", table)
        await session.execute(inserting.on_conflict_do_nothing() if skip_taken else inserting, rows)
        return
    statement = _unnested_insert(table, columns, skip_taken)
    await session.execute(statement, _columns_of(rows, columns))


async def update_many(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: str = "id",
    forward: frozenset[str] = frozenset(),
) -> None:
    """Update rows by ``key``, each with its own values; every row gives the same columns.

    PostgreSQL: one ``UPDATE ... FROM unnest(...)`` (see :func:`insert_many`); SQLite: an
    executemany of the UPDATE. A column named in ``forward`` only moves forward there: it
    becomes the greater of the stored and the given value (``GREATEST``), so a process that
    read a row before another moved it on (both apply webhooks) never writes back an older
    value. SQLite needs no such guard: one transaction writes at a time, and it read the row
    inside its own.
    """
    if not rows:
        return
    columns = tuple(name for name in rows[0] if name != key)
    if postgresql(session):
        statement = _unnested_update(table, key, columns, forward & set(columns))
        await session.execute(statement, _columns_of(rows, (key, *columns)))
        return
    values: dict[str, Any] = {name: bindparam(f"v_{name}") for name in columns}
    by_key = update(table).where(table.c[key] == bindparam(f"v_{key}")).values(values)
    await session.execute(by_key, [{f"v_{k}": v for k, v in row.items()} for row in rows])


def _columns_of(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, Any]:
    """The rows as one list a column, bound as the arrays of :func:`_arrays`."""
    return {f"a_{name}": [row[name] for row in rows] for name in columns}


@functools.cache
def _arrays(table: Table, columns: tuple[str, ...]) -> Any:
    arrays = [
        bindparam(f"a_{name}", type_=dialects.postgresql_array(table.c[name])) for name in columns
    ]
    return func.unnest(*arrays).table_valued(*columns).render_derived()


@functools.cache
def _unnested_insert(table: Table, columns: tuple[str, ...], skip_taken: bool) -> Any:
    rows = _arrays(table, columns)
    chosen = select(*(rows.c[name] for name in columns))
    inserting = dialects.insert("postgresql", table).from_select(list(columns), chosen)
    return inserting.on_conflict_do_nothing() if skip_taken else inserting


@functools.cache
def _unnested_update(
    table: Table, key: str, columns: tuple[str, ...], forward: frozenset[str]
) -> Any:
    rows = _arrays(table, (key, *columns))
    values = {
        name: func.greatest(table.c[name], rows.c[name]) if name in forward else rows.c[name]
        for name in columns
    }
    return update(table).where(table.c[key] == rows.c[key]).values(values)
