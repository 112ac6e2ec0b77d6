"""leads.last_activity_at, leads.latest_message_id: each lead's last activity, kept

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 00:30:00.000000

The inbox (ovenai.inbox) lists leads by their last activity (their newest message's time,
else their creation) and shows each one's newest message (by time, then id). It computed
both per lead with correlated subqueries, so every page read every visible lead's messages
(100,000 leads, 1,000,000 messages: bench/README.md, "Workspace pages at 100,000 leads").
Now each lead keeps its last activity (its newest message's time, else its creation) and its
newest message's id, and ``ix_leads_activity`` matches the inbox's order and keyset cursor:
``last_activity_at DESC, id DESC``.

The database keeps them, whoever writes a lead or a message (inbound apply, outbox,
campaigns, imports, retention, erasure, a lead's deletion, raw SQL): triggers. A new lead's
last activity is its creation (unless given). After an insert of messages, a lead takes the
newest of its new messages if it has none yet or if it is newer (time, then id) than its
own; after a delete of a lead's newest message, the lead's newest remaining one is looked up
again (none: its creation, and no message); after an update of a message's lead or time,
both leads are looked up again. PostgreSQL runs the insert and delete triggers once per
statement, over the statement's rows (transition tables: a bulk insert or a retention
delete updates each lead once); SQLite, which has no statement triggers, once per row.
Concurrent writers of one lead are serialised by the lead's row lock; PostgreSQL re-checks
the "newer" condition on the row version it waited for, so the newest message wins
whatever the commit order. (A later migration that rebuilds ``leads`` or ``messages`` on
SQLite, batch mode, drops these triggers first and makes them again.)

Upgrading fills both columns from the messages there are. Downgrading drops the triggers,
the index and the columns.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The lead's newest message, (time, id) descending: the inbox's own order of messages.
NEWEST = (
    "SELECT m.{column} FROM messages AS m WHERE m.lead_id = leads.id"
    " ORDER BY m.created_at DESC, m.id DESC LIMIT 1"
)
# A lead's last activity and newest message, looked up again.
AGAIN = (
    f"last_activity_at = coalesce(({NEWEST.format(column='created_at')}), leads.created_at), "
    f"latest_message_id = ({NEWEST.format(column='id')})"
)

POSTGRESQL = [
    """
    CREATE FUNCTION leads_activity_created() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.last_activity_at := coalesce(NEW.last_activity_at, NEW.created_at);
        RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION leads_latest_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE leads SET last_activity_at = n.created_at, latest_message_id = n.id
        FROM (
            SELECT DISTINCT ON (lead_id) lead_id, created_at, id FROM new_messages
            ORDER BY lead_id, created_at DESC, id DESC
        ) AS n
        WHERE leads.id = n.lead_id
          AND (leads.latest_message_id IS NULL
               OR (n.created_at, n.id) > (leads.last_activity_at, leads.latest_message_id));
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE FUNCTION leads_latest_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE leads SET {AGAIN}
        WHERE leads.id IN (SELECT lead_id FROM old_messages)
          AND leads.latest_message_id IN (SELECT id FROM old_messages);
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE FUNCTION leads_latest_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE leads SET {AGAIN} WHERE leads.id IN (OLD.lead_id, NEW.lead_id);
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER leads_activity_created BEFORE INSERT ON leads
    FOR EACH ROW EXECUTE FUNCTION leads_activity_created()
    """,
    """
    CREATE TRIGGER messages_latest_inserted AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION leads_latest_inserted()
    """,
    """
    CREATE TRIGGER messages_latest_deleted AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_messages
    FOR EACH STATEMENT EXECUTE FUNCTION leads_latest_deleted()
    """,
    """
    CREATE TRIGGER messages_latest_moved AFTER UPDATE OF lead_id, created_at ON messages
    FOR EACH ROW EXECUTE FUNCTION leads_latest_moved()
    """,
]

SQLITE = [
    """
    CREATE TRIGGER leads_activity_created AFTER INSERT ON leads
    WHEN NEW.last_activity_at IS NULL BEGIN
        UPDATE leads SET last_activity_at = NEW.created_at WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER messages_latest_inserted AFTER INSERT ON messages BEGIN
        UPDATE leads SET last_activity_at = NEW.created_at, latest_message_id = NEW.id
        WHERE id = NEW.lead_id
          AND (latest_message_id IS NULL
               OR (NEW.created_at, NEW.id) > (last_activity_at, latest_message_id));
    END
    """,
    f"""
    CREATE TRIGGER messages_latest_deleted AFTER DELETE ON messages BEGIN
        UPDATE leads SET {AGAIN} WHERE id = OLD.lead_id AND latest_message_id = OLD.id;
    END
    """,
    f"""
    CREATE TRIGGER messages_latest_moved AFTER UPDATE OF lead_id, created_at ON messages BEGIN
        UPDATE leads SET {AGAIN} WHERE id IN (OLD.lead_id, NEW.lead_id);
    END
    """,
]

TRIGGERS = (
    ("leads_activity_created", "leads"),
    ("messages_latest_inserted", "messages"),
    ("messages_latest_deleted", "messages"),
    ("messages_latest_moved", "messages"),
)
FUNCTIONS = (
    "leads_activity_created",
    "leads_latest_inserted",
    "leads_latest_deleted",
    "leads_latest_moved",
)


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_activity_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("latest_message_id", sa.String(36)))
    op.execute(f"UPDATE leads SET {AGAIN}")
    op.create_index(
        "ix_leads_activity", "leads", [sa.text("last_activity_at DESC"), sa.text("id DESC")]
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for trigger, table in TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        for function in FUNCTIONS:
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_index("ix_leads_activity", table_name="leads")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_column("latest_message_id")
        batch_op.drop_column("last_activity_at")
