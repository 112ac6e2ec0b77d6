"""What differs between SQLite and PostgreSQL, answered in one place.

The product runs the same statements on both databases; the few places where they differ
(an upsert's ``INSERT ... ON CONFLICT`` construct, bulk statements written for one driver)
ask here instead of testing the dialect's name themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from sqlalchemy import ColumnElement, all_, any_, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import QueryableAttribute

Name = Literal["sqlite", "postgresql"]

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def name_of(target: AsyncSession | AsyncConnection | Connection | Dialect | str) -> Name:
    """`sqlite` or `postgresql` for a session, connection, dialect or dialect name."""
    if isinstance(target, AsyncSession):
        target = target.get_bind().dialect
    elif isinstance(target, AsyncConnection | Connection):
        target = target.dialect
    name = target if isinstance(target, str) else target.name
    if name not in _INSERTS:
        raise ValueError(f"unsupported database dialect {name!r}")
    return "postgresql" if name == "postgresql" else "sqlite"


def of_url(url: str | URL) -> Name:
    """`sqlite` or `postgresql` for a database URL (any driver)."""
    return name_of(make_url(url).get_backend_name())


def is_postgresql(target: AsyncSession | AsyncConnection | Connection | Dialect | str) -> bool:
    """Whether the target runs on PostgreSQL (else SQLite)."""
    return name_of(target) == "postgresql"


def insert(target: AsyncSession | AsyncConnection | Connection | Dialect | str, table: Any) -> Any:
    """The dialect's own INSERT for ``table``, which has ``on_conflict_do_nothing/update``.

    Typed ``Any``: the two dialects' Insert classes share the upsert methods but no base
    class that declares them.
    """
    return _INSERTS[name_of(target)](table)


def one_of(
    target: AsyncSession | AsyncConnection | Connection | Dialect | str,
    column: ColumnElement[Any] | QueryableAttribute[Any],
    values: Iterable[Any],
) -> ColumnElement[bool]:
    """``column IN (values)``, written so that its text does not change with the values.

    ``IN`` with a list gives one placeholder per value, so every length is a statement of its
    own: psycopg parses each new text in Python (it caches statements of at most 50
    parameters), and the server plans it anew. On PostgreSQL the list is therefore bound as
    one array (``column = ANY(%(param)s)``); on SQLite, which parses in C and has no arrays,
    it stays ``IN``.
    """
    element, listed = _listed(column, values)
    if is_postgresql(target):
        return element == any_(_array(element, listed))
    return element.in_(listed)


def none_of(
    target: AsyncSession | AsyncConnection | Connection | Dialect | str,
    column: ColumnElement[Any] | QueryableAttribute[Any],
    values: Iterable[Any],
) -> ColumnElement[bool]:
    """``column NOT IN (values)``, one text whatever the values (see :func:`one_of`)."""
    element, listed = _listed(column, values)
    if is_postgresql(target):
        return element != all_(_array(element, listed))
    return element.not_in(listed)


def one_of_parameter(
    column: ColumnElement[Any], name: str, *, postgresql: bool
) -> ColumnElement[bool]:
    """``column`` equal to one of the values of the list bound later as parameter ``name``.

    The form of :func:`one_of` for a statement built once (cached per dialect) and run with
    its values: ``column = ANY(:name)`` with ``name`` an array on PostgreSQL, an expanding
    ``IN`` on SQLite.
    """
    if postgresql:
        return column == any_(bindparam(name, type_=postgresql_array(column)))
    return column.in_(bindparam(name, expanding=True))


def postgresql_array(column: ColumnElement[Any]) -> Any:
    """PostgreSQL's array type of ``column``'s values."""
    return postgresql.ARRAY(column.type)


def _listed(
    column: ColumnElement[Any] | QueryableAttribute[Any], values: Iterable[Any]
) -> tuple[ColumnElement[Any], list[Any]]:
    element = column.__clause_element__() if isinstance(column, QueryableAttribute) else column
    return element, list(values)


def _array(element: ColumnElement[Any], listed: list[Any]) -> Any:
    """The values as one anonymous array parameter of the column's type."""
    return bindparam(None, listed, type_=postgresql_array(element))


def rowcount(result: object) -> int:
    """Rows an UPDATE or DELETE touched (0 where the driver does not say)."""
    return int(getattr(result, "rowcount", 0) or 0)


async def plan_with_values(session: AsyncSession) -> None:
    """Plan the rest of the session's transaction for the values each statement is given.

    psycopg prepares a statement it has run five times, and PostgreSQL then keeps one generic
    plan for it. A long transaction that fills a table and looks rows up in it by index (an
    import) gets its plan while the table is empty: a sequential scan, kept as the table
    grows, so each lookup reads everything written so far (50,000 leads imported took 31 s
    in each of two lookups). ``force_custom_plan`` plans every execution against the table as
    it is. Nothing to do on SQLite, which plans each statement anew.
    """
    if is_postgresql(session):
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
