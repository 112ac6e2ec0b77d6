"""The consent ledger as stored: each entry's kind, source and whole evidence (opened with the
lead's key), for tests of what an entry keeps beyond what the ledger view shows."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from ovenai.db import Database
from ovenai.models import ConsentEvent
from ovenai.sealing import CONSENT_EVENTS


async def stored_entries(db: Database, lead_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, channel, evidence) of a lead's ledger entries, oldest first."""
    async with db.session() as session:
        query = select(ConsentEvent).where(ConsentEvent.lead_id == lead_id)
        rows = list(await session.scalars(query.order_by(ConsentEvent.at, ConsentEvent.id)))
    key = await db.vault.key("lead", lead_id)
    entries = []
    for row in rows:
        opened = CONSENT_EVENTS.open_from(row, key, "evidence")
        assert opened is not None, "every ledger entry keeps its evidence"
        entries.append((row.kind, row.channel, orjson.loads(opened)))
    return entries
