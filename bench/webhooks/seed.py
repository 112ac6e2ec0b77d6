"""The leads (and the messages sent to them) that a stream of :mod:`bench.webhooks.bodies` meets.

Known leads are written as a lead who wrote before would be (WhatsApp source, BSUID, wa_id
and phone sealed under the lead's own key with their blind indexes, name and profile name,
name tokens, and the message they wrote a day earlier, so a new one is not their first), so a
message from them is matched by BSUID and changes nothing on the lead but its last inbound
time. Their keys are made in one key-store transaction. Outbound messages
(for the statuses of ``--kind mix``) are ``sending`` rows with the wamids the statuses name.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, insert

from bench.webhooks.bodies import known_sender, outbound_wamid
from bench.webhooks.common import settings_from
from ovenai import automation, phones
from ovenai.columns import new_id, utcnow
from ovenai.db import Database, open_database
from ovenai.leads import seal_identity
from ovenai.models import Lead, LeadNameToken, Message
from ovenai.sealing import LeadColumn, name_index

_CHUNK = 1000


async def seed(env: dict[str, str], *, known: int, outbound: int, rules: bool = True) -> None:
    """Write ``known`` leads and ``outbound`` sent messages (spread over them), and with
    ``rules`` the default automation rules (as ``ovenai db upgrade`` adds them)."""
    db = open_database(settings_from(env))
    await db.start()
    try:
        if rules:
            await automation.seed_rules(db)
        lead_ids = await _leads(db, known)
        await _history(db, lead_ids)
        await _messages(db, lead_ids, outbound)
    finally:
        await db.dispose()


async def _leads(db: Database, count: int) -> list[str]:
    ids = [new_id() for _ in range(count)]
    keys = await db.vault.keys("lead", ids, create=True)
    for start in range(0, count, _CHUNK):
        async with db.session() as session:
            for n in range(start, min(start + _CHUNK, count)):
                sender = known_sender(n)
                lead = Lead(id=ids[n], source="whatsapp", language="he")
                values: dict[LeadColumn, str | None] = {
                    "bsuid": sender.bsuid,
                    "wa_id": sender.wa_id,
                    "phone": phones.from_wa_id(sender.wa_id),
                    "name": sender.name,
                    "profile_name": sender.name,
                }
                seal_identity(db.vault, lead, keys[lead.id], values)
                session.add(lead)
                session.add_all(
                    LeadNameToken(lead_id=lead.id, token=token)
                    for token in sorted(name_index(db.vault, sender.name))
                )
            await session.commit()
    return ids


async def _history(db: Database, lead_ids: list[str]) -> None:
    """Each known lead's earlier message (a day ago; its text is not needed)."""
    table = cast(Table, Message.__table__)
    before = utcnow() - timedelta(days=1)
    for start in range(0, len(lead_ids), _CHUNK):
        rows: list[dict[str, Any]] = [
            {
                "id": new_id(),
                "lead_id": lead_id,
                "direction": "inbound",
                "type": "text",
                "wa_message_id": f"wamid.bench.history.{start + n}",
                "status": "received",
                "status_at": before,
                "attempts": 0,
                "created_at": before,
                "updated_at": before,
            }
            for n, lead_id in enumerate(lead_ids[start : start + _CHUNK])
        ]
        async with db.session() as session:
            await session.execute(insert(table), rows)
            await session.commit()


async def _messages(db: Database, lead_ids: list[str], count: int) -> None:
    table = cast(Table, Message.__table__)
    now = utcnow()
    for start in range(0, count, _CHUNK):
        rows: list[dict[str, Any]] = [
            {
                "id": new_id(),
                "lead_id": lead_ids[n % len(lead_ids)],
                "direction": "outbound",
                "type": "template",
                "wa_message_id": outbound_wamid(n),
                "status": "sending",
                "status_at": now,
                "attempts": 1,
                "created_at": now,
                "updated_at": now,
            }
            for n in range(start, min(start + _CHUNK, count))
        ]
        async with db.session() as session:
            await session.execute(insert(table), rows)
            await session.commit()
