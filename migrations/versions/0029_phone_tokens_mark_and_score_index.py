"""leads: which phone a lead's search tokens were made from; the inbox's order by score

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 12:00:00.000000

A search by phone digits first tokenises the phones not tokenised yet
(``ovenai.phone_search.refresh``). It found them with an anti-join of every lead with a
phone against every token (about 24 a phone), and the tokens left behind by cleared phones
with a scan of every token: both grew with the tokens (0.2 and 0.5 s at 3,000 phones,
before each search). Each lead now keeps ``phone_tokens_index``, the phone index its tokens
were made from (NULL: none), and ``ix_leads_phone_tokens_stale`` finds the leads whose
tokens are missing or out of date (``phone_index`` differs from it): on PostgreSQL an index
on that comparison (its statistics tell the planner how few they are), on SQLite a partial
index of those leads alone. A refresh with nothing to do reads a few index pages. Upgrading
fills the column from the tokens there are (a lead's tokens are all made from one phone).

``ix_leads_score`` serves the inbox sorted by score (score, then last activity, then id,
newest first), which sorted every visible lead.

Downgrading drops both indexes and the column (SQLite's own DROP COLUMN: no batch copy of
the table, which would drop the triggers of 0025).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STALE = "phone_index IS DISTINCT FROM phone_tokens_index"
STALE_SQLITE = "phone_index IS NOT phone_tokens_index"


def upgrade() -> None:
    op.execute("ALTER TABLE leads ADD COLUMN phone_tokens_index VARCHAR(32)")
    op.execute(
        "UPDATE leads SET phone_tokens_index = (SELECT max(t.phone_index) FROM "
        "lead_phone_tokens t WHERE t.lead_id = leads.id) "
        "WHERE id IN (SELECT lead_id FROM lead_phone_tokens)"
    )
    if op.get_bind().dialect.name == "postgresql":
        # An index on the comparison itself: ANALYZE keeps statistics of an index's
        # expression (not of a partial index's predicate), so the planner knows how few
        # leads are stale and reads the index instead of every lead.
        op.execute(f"CREATE INDEX ix_leads_phone_tokens_stale ON leads (({STALE}))")
        op.execute("ANALYZE leads")
    else:  # SQLite reads a partial index whose predicate the query repeats
        op.execute(f"CREATE INDEX ix_leads_phone_tokens_stale ON leads (id) WHERE {STALE_SQLITE}")
    op.create_index(
        "ix_leads_score",
        "leads",
        [sa.text("engagement_score DESC"), sa.text("last_activity_at DESC"), sa.text("id DESC")],
    )


def downgrade() -> None:
    op.drop_index("ix_leads_score", table_name="leads")
    op.drop_index("ix_leads_phone_tokens_stale", table_name="leads")
    op.execute("ALTER TABLE leads DROP COLUMN phone_tokens_index")
