"""Status events applied per second: stored status bodies drained by the processor.

Set-up (not timed): ``--messages`` outbound messages with wamids, then for each message
the bodies of ``sent``, ``delivered`` and ``read`` (shuffled, so they arrive out of
order) stored through the real event store. Timed: ``Processor.drain()`` until every
stored body is applied (decrypt, parse, exactly-once claims, status rows, message state).

    .venv/bin/python -m bench.webhooks.apply --db sqlite --messages 5000
    .venv/bin/python -m bench.webhooks.apply --db postgresql --messages 5000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from bench.webhooks.common import fresh_database, settings_from, status_body, wamid
from ovenai.columns import new_id, utcnow
from ovenai.db import Database, open_database
from ovenai.ingest.processor import Processor
from ovenai.ingest.receive.event_store import EventStore
from ovenai.models import Lead, Message


async def seed_messages(db: Database, count: int) -> None:
    async with db.session() as session:
        lead = Lead(id=new_id(), source="manual")
        await db.vault.new_lead_key(lead.id)
        session.add(lead)
        await session.flush()
        for n in range(count):
            session.add(
                Message(
                    id=new_id(),
                    lead_id=lead.id,
                    direction="outbound",
                    type="template",
                    wa_message_id=wamid(n),
                    status="sending",
                    status_at=utcnow(),
                )
            )
        await session.commit()


async def store_statuses(db: Database, count: int) -> int:
    bodies = [
        status_body(n, status, 1767000060 + step)
        for n in range(count)
        for step, status in enumerate(("sent", "delivered", "read"))
    ]
    random.Random(7).shuffle(bodies)
    store = EventStore(db)
    for start in range(0, len(bodies), 256):
        await asyncio.gather(*(store.store(raw, {}) for raw in bodies[start : start + 256]))
    store.close()
    return len(bodies)


async def run(env: dict[str, str], messages: int, batch: int) -> None:
    db = open_database(settings_from(env))
    await db.start()
    try:
        await seed_messages(db, messages)
        stored = await store_statuses(db, messages)
        started = time.perf_counter()
        processor = Processor(db, batch_size=batch)
        report = await processor.drain()
        elapsed = time.perf_counter() - started
        batch = processor.batch_size
    finally:
        await db.dispose()
    print(
        f"status events applied/s={stored / elapsed:,.0f} ({stored} events in {elapsed:.2f} s, "
        f"batch {batch}; processed={report.processed} failed={report.failed})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=0, help="0: the processor's default")
    args = parser.parse_args()
    with fresh_database(args.db) as env:
        asyncio.run(run(env, args.messages, args.batch))
        print(f"db={args.db} messages={args.messages}")


if __name__ == "__main__":
    main()
