"""The leads :mod:`bench.growth` measures on, made through the product's own services.

The bulk rows carry placeholder ciphertext that no key opens. The leads whose lookup,
conversation, export and erasure are timed are made as the product makes them: created by
:func:`ovenai.leads.create_lead` (sealed under their own key, blind-indexed phone, name
tokens, consent), written to by WhatsApp (signed inbound text bodies stored by the event
store and applied by the processor, which links each body to its lead) and answered by an
agent (:func:`ovenai.outbox.queue.enqueue_text`: sealed, queued).

The inbox pages show bulk leads too: :func:`realise` gives the few a page shows (their
leads and latest messages) a key and real ciphertext, so the page opens them as it would.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy import select

from bench.webhooks.bodies import Sender, inbound_body
from bench.webhooks.common import signature
from ovenai import phones
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.ingest.processor import Processor
from ovenai.ingest.receive.event_store import EventStore
from ovenai.lead_fields import LeadCreate
from ovenai.leads import create_lead, get_lead, identity_columns
from ovenai.models import Lead, Message, Role, Source, Stage
from ovenai.outbox.queue import enqueue_text
from ovenai.sealing import MESSAGES, LeadColumn, MessageColumn

ADMIN = Actor(user_id="bench-admin", role=Role.ADMIN, email="admin@agency.co.il")
AGENT = Actor(user_id="agent-1", role=Role.AGENT, email="agent1@agency.co.il")

INBOUND = 3
OUTBOUND = 3
_NAMES = ("נועה כהן", "Yossi Levi", "מיכל אברהם", "דניאל מזרחי", "Tamar Peretz", "אורי ביטון")
_ANSWERS = (
    "שלום! הדירה עדיין פנויה, אפשר לתאם סיור מחר ב-17:00.",
    "Hi, the rent is 7,200 ₪ including building fees; a bank guarantee of two months.",
    "מעולה, שלחתי לך את התמונות ואת תוכנית הדירה. נדבר מחר בבוקר?",
)


@dataclass(frozen=True)
class Subject:
    """A measured lead: its id and the phone it is looked up by."""

    id: str
    phone: str


async def make(db: Database, first: int, count: int) -> list[Subject]:
    """Leads number ``first`` … ``first + count - 1``, each with INBOUND messages from
    WhatsApp and OUTBOUND answers queued by an agent."""
    made: list[Subject] = []
    for n in range(first, first + count):
        phone = phones.normalize(f"+9725{30_000_000 + n:08d}")
        data = LeadCreate(
            name=_NAMES[n % len(_NAMES)], phone=phone, source=Source.WHATSAPP, stage=Stage.NEW
        )
        record = await create_lead(db, actor=ADMIN, data=data)
        made.append(Subject(record.id, phone))
    store = EventStore(db)
    try:
        now = int(time.time())
        for position, subject in enumerate(made):
            n = first + position
            sender = Sender(subject.phone.lstrip("+"), f"IL.{5_570_000_000_000_000_000 + n}", "")
            for turn in range(INBOUND):
                raw = inbound_body("text", n * 10 + turn, sender, now - 600 + turn * 120)
                await store.store(raw, {"x-hub-signature-256": signature(raw)})
    finally:
        await asyncio.to_thread(store.close)
    await Processor(db).drain()
    for subject in made:
        lead = await get_lead(db, actor=ADMIN, lead_id=subject.id)
        async with db.session() as session:
            for turn in range(OUTBOUND):
                await enqueue_text(
                    session, db.vault, lead=lead, text=_ANSWERS[turn], sent_by_id="agent-1"
                )
            await session.commit()
    return made


async def realise(db: Database, lead_ids: list[str]) -> None:
    """Give these bulk leads a key and seal a name, phone and profile name (their indexes
    with them) and their latest message's text under it: what an inbox page opens."""
    async with db.session() as session:
        leads = list(await session.scalars(select(Lead).where(Lead.id.in_(lead_ids))))
        real = await db.vault.surviving_lead_keys([lead.id for lead in leads])
        keys = await db.vault.new_lead_keys([lead.id for lead in leads if lead.id not in real])
        for lead in leads:
            if lead.id not in keys:
                continue  # made through the services, or realised before: real already
            number = int(lead.id.replace("-", "")[-15:], 16)
            values: dict[LeadColumn, str | None] = {
                "name": _NAMES[number % len(_NAMES)],
                "phone": f"+9725{40_000_000 + number:08d}",
                "wa_id": f"9725{40_000_000 + number:08d}",
                "profile_name": _NAMES[number % len(_NAMES)],
                "bsuid": None,
                "email": None,
                "username": None,
                "notes": None,
            }
            for column, value in identity_columns(db.vault, lead.id, keys[lead.id], values).items():
                setattr(lead, column, value)
            lead.phone_tokens_index = lead.phone_index  # not searched by part: no tokens
            if lead.latest_message_id is not None:
                message = await session.get(Message, lead.latest_message_id)
                if message is not None:
                    sealed: dict[MessageColumn, str | None] = {
                        "text": _ANSWERS[number % len(_ANSWERS)],
                        "payload": None,
                        "template_params": None,
                    }
                    MESSAGES.seal_into(message, keys[lead.id], sealed)
        await session.commit()
