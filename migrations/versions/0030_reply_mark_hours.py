"""reply_mark_hours: the reply marks by kind and hour, kept by triggers

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 16:00:00.000000

Key figures (ovenai.kpis, the reply rate): a period's leads written to and replied were a
scan of every reply mark of the period (550,000 for 30 days at a million messages, about
200 ms). ``reply_mark_hours`` keeps, per kind and UTC hour, how many marks have their
``at`` in the hour (``marks``) and how many their ``previous_at`` (``next_marks``), so a
period's counts are sums of its whole hours plus a few index ranges (ovenai.reply_hours).

The database keeps it, whoever writes or deletes reply marks (the worker's ``kpis.turns``
job, the cascade of a message's deletion by retention, raw SQL): triggers. PostgreSQL runs
them once per statement over its rows (transition tables) and adds each (kind, hour)'s
counts in one upsert, in (kind, hour) order; a ``TRUNCATE`` of reply_marks empties it.
SQLite, which has no statement triggers, runs them once per row. Its rows hold counts and
hours only (no lead, no message). (A later migration that rebuilds ``reply_marks`` on
SQLite, batch mode, drops these triggers first and makes them again.)

``ix_reply_marks_kind_previous`` reads the marks whose ``previous_at`` falls in a period's
partial hours; ``ix_reply_marks_kind_reply`` the replies that came after a period's end.

Upgrading fills the table from the marks there are. Downgrading drops the triggers, the
table and the indexes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The (kind, hour, marks, next_marks) rows of a set of marks ``{source}``, each counted
# ``{sign}`` (1 or -1), grouped: PostgreSQL.
_SUMS = """
    SELECT kind, hour, sum(marks) AS marks, sum(next_marks) AS next_marks FROM (
        SELECT kind, date_trunc('hour', at, 'UTC') AS hour,
               {sign} AS marks, 0 AS next_marks FROM {source}
        UNION ALL
        SELECT kind, date_trunc('hour', previous_at, 'UTC'), 0, {sign} FROM {source}
        WHERE previous_at IS NOT NULL
    ) AS counted
    GROUP BY kind, hour ORDER BY kind, hour
"""
_ADD = """
    INSERT INTO reply_mark_hours AS kept (kind, hour, marks, next_marks)
    {sums}
    ON CONFLICT (kind, hour) DO UPDATE
    SET marks = kept.marks + excluded.marks, next_marks = kept.next_marks + excluded.next_marks;
"""


def _add(source: str, sign: int) -> str:
    return _ADD.format(sums=_SUMS.format(source=source, sign=sign))


POSTGRESQL = [
    f"""
    CREATE FUNCTION reply_mark_hours_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_add("new_marks", 1)}
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE FUNCTION reply_mark_hours_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_add("old_marks", -1)}
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE FUNCTION reply_mark_hours_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_add("old_marks", -1)}
        {_add("new_marks", 1)}
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION reply_mark_hours_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM reply_mark_hours;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER reply_marks_inserted AFTER INSERT ON reply_marks
    REFERENCING NEW TABLE AS new_marks
    FOR EACH STATEMENT EXECUTE FUNCTION reply_mark_hours_inserted()
    """,
    """
    CREATE TRIGGER reply_marks_deleted AFTER DELETE ON reply_marks
    REFERENCING OLD TABLE AS old_marks
    FOR EACH STATEMENT EXECUTE FUNCTION reply_mark_hours_deleted()
    """,
    """
    CREATE TRIGGER reply_marks_updated AFTER UPDATE ON reply_marks
    REFERENCING OLD TABLE AS old_marks NEW TABLE AS new_marks
    FOR EACH STATEMENT EXECUTE FUNCTION reply_mark_hours_updated()
    """,
    """
    CREATE TRIGGER reply_marks_truncated AFTER TRUNCATE ON reply_marks
    FOR EACH STATEMENT EXECUTE FUNCTION reply_mark_hours_truncated()
    """,
]

# SQLite keeps UTC times as text, "YYYY-MM-DD HH:MM:SS.ffffff": an hour is its first 13
# characters (ovenai.kept_hours.hour_in_sql). The colons escaped: op.execute reads a string
# as text(), where ":name" is a parameter.
_HOUR = "substr({0}, 1, 13) || '\\:00\\:00.000000'"


def _row(mark: str, sign: str) -> str:
    """One mark's counts added (``sign`` "+") or taken (``sign`` "-"): SQLite."""
    return f"""
        INSERT INTO reply_mark_hours (kind, hour, marks, next_marks)
        VALUES ({mark}.kind, {_HOUR.format(mark + ".at")}, {sign}1, 0)
        ON CONFLICT (kind, hour) DO UPDATE SET marks = marks {sign} 1;
        INSERT INTO reply_mark_hours (kind, hour, marks, next_marks)
        SELECT {mark}.kind, {_HOUR.format(mark + ".previous_at")}, 0, {sign}1
        WHERE {mark}.previous_at IS NOT NULL
        ON CONFLICT (kind, hour) DO UPDATE SET next_marks = next_marks {sign} 1;
    """


SQLITE = [
    f"CREATE TRIGGER reply_marks_inserted AFTER INSERT ON reply_marks BEGIN {_row('NEW', '+')} END",
    f"CREATE TRIGGER reply_marks_deleted AFTER DELETE ON reply_marks BEGIN {_row('OLD', '-')} END",
    "CREATE TRIGGER reply_marks_updated AFTER UPDATE ON reply_marks BEGIN "
    f"{_row('OLD', '-')} {_row('NEW', '+')} END",
]

TRIGGERS = ("reply_marks_inserted", "reply_marks_deleted", "reply_marks_updated")
FUNCTIONS = (
    "reply_mark_hours_inserted",
    "reply_mark_hours_deleted",
    "reply_mark_hours_updated",
    "reply_mark_hours_truncated",
)

_FILL_SQLITE = f"""
    INSERT INTO reply_mark_hours (kind, hour, marks, next_marks)
    SELECT kind, hour, sum(marks), sum(next_marks) FROM (
        SELECT kind, {_HOUR.format("at")} AS hour, 1 AS marks, 0 AS next_marks
        FROM reply_marks
        UNION ALL
        SELECT kind, {_HOUR.format("previous_at")}, 0, 1 FROM reply_marks
        WHERE previous_at IS NOT NULL
    ) AS counted
    GROUP BY kind, hour
"""


def upgrade() -> None:
    op.create_table(
        "reply_mark_hours",
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("marks", sa.Integer(), nullable=False),
        sa.Column("next_marks", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_reply_marks_kind_previous",
        "reply_marks",
        ["kind", "previous_at"],
        postgresql_include=["at"],
    )
    op.create_index(
        "ix_reply_marks_kind_reply",
        "reply_marks",
        ["kind", "reply_at"],
        postgresql_include=["at", "previous_at"],
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(
            "INSERT INTO reply_mark_hours (kind, hour, marks, next_marks) "
            + _SUMS.format(source="reply_marks", sign=1)
        )
    else:
        op.execute(_FILL_SQLITE)
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for trigger in (*TRIGGERS, "reply_marks_truncated") if postgresql else TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger}" + (" ON reply_marks" if postgresql else ""))
    if postgresql:
        for function in FUNCTIONS:
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_index("ix_reply_marks_kind_reply", table_name="reply_marks")
    op.drop_index("ix_reply_marks_kind_previous", table_name="reply_marks")
    op.drop_table("reply_mark_hours")
