"""reached_users: the messaging-limit tier in a table of its own, out of rate_buckets

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 18:00:00.000000

Until now the tier kept each user reached as a ``rate_buckets`` row named
``reach:{portfolio}:{lead_id}`` (zero tokens, ``updated_at`` = when reached) and locked a
portfolio through a row named ``tier:{portfolio}``. Upgrading moves the reach rows into
``reached_users`` (their sending number was never recorded: ``phone_number_id`` is empty)
and deletes the lock rows, which held no data: the tier now locks a portfolio with a
PostgreSQL advisory lock. Downgrading moves the rows back, one per portfolio and user (the
latest reach of any number); the lock rows are not restored because the old code creates
its lock row on first use.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REACH_PREFIX = "reach:"
LOCK_PREFIX = "tier:"
# Untyped columns: the timestamps are copied as the driver gives them, in the stored form.
_buckets = sa.table(
    "rate_buckets",
    sa.column("name", sa.String),
    sa.column("tokens"),
    sa.column("rate"),
    sa.column("capacity"),
    sa.column("updated_at"),
)
_reached = sa.table(
    "reached_users",
    sa.column("portfolio"),
    sa.column("phone_number_id"),
    sa.column("lead_id"),
    sa.column("reached_at"),
)


def upgrade() -> None:
    op.create_table(
        "reached_users",
        sa.Column("portfolio", sa.String(length=64), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.String(length=36), nullable=False),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("portfolio", "phone_number_id", "lead_id"),
    )
    with op.batch_alter_table("reached_users", schema=None) as batch_op:
        batch_op.create_index("ix_reached_users_reached_at", ["reached_at"], unique=False)
    _move_reach_rows_in(op.get_bind())


def downgrade() -> None:
    _move_reach_rows_out(op.get_bind())
    with op.batch_alter_table("reached_users", schema=None) as batch_op:
        batch_op.drop_index("ix_reached_users_reached_at")
    op.drop_table("reached_users")


def _move_reach_rows_in(bind: sa.Connection) -> None:
    """Each ``reach:{portfolio}:{lead_id}`` bucket row becomes a reached_users row."""
    name = _buckets.c.name
    found = bind.execute(sa.select(name, _buckets.c.updated_at).where(_reach_or_lock())).all()
    rows = [_reached_row(name, at) for name, at in found if name.startswith(REACH_PREFIX)]
    if rows:
        bind.execute(_reached.insert(), rows)
    bind.execute(sa.delete(_buckets).where(_reach_or_lock()))


def _reached_row(name: str, at: Any) -> dict[str, Any]:
    portfolio, _, lead_id = name.removeprefix(REACH_PREFIX).rpartition(":")
    return {"portfolio": portfolio, "phone_number_id": "", "lead_id": lead_id, "reached_at": at}


def _move_reach_rows_out(bind: sa.Connection) -> None:
    """Each portfolio's users go back to ``reach:`` bucket rows, at their latest reach."""
    key = (_reached.c.portfolio, _reached.c.lead_id)
    latest = sa.select(*key, sa.func.max(_reached.c.reached_at)).group_by(*key)
    rows = [
        {"name": f"{REACH_PREFIX}{portfolio}:{lead_id}", "updated_at": at}
        | {"tokens": 0.0, "rate": 0.0, "capacity": 0.0}
        for portfolio, lead_id, at in bind.execute(latest)
    ]
    if rows:
        bind.execute(_buckets.insert(), rows)


def _reach_or_lock() -> sa.ColumnElement[bool]:
    name = _buckets.c.name
    return sa.or_(name.startswith(REACH_PREFIX), name.startswith(LOCK_PREFIX))
