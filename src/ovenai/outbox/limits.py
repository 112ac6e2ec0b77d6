"""Meta's sending limits, shared by any number of workers: which store, and housekeeping.

Meta limits a business number three ways (its WhatsApp Cloud API documentation: "Throughput",
"Pair rate limits", "Messaging limits"), each kept where every worker sees it:

* throughput of the number: the token bucket ``mps:{phone_number_id}``, rate = messages
  per second (:mod:`~ovenai.outbox.token_bucket` works out the slots);
* the pair limit to one user: the bucket ``pair:{lead_id}``, one message per interval, a
  small burst;
* the messaging-limit tier: unique users reached outside a service window in a rolling
  24 hours, per business portfolio (:mod:`~ovenai.outbox.messaging_tier`).

The buckets live in the database or in Redis (:mod:`~ovenai.outbox.bucket_store`,
:mod:`~ovenai.outbox.redis_buckets`); the tier always lives in the database.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ovenai.db import Database
from ovenai.outbox import messaging_tier
from ovenai.outbox.bucket_store import Buckets, DatabaseBuckets, prune_idle_pairs
from ovenai.outbox.redis_buckets import RedisBuckets


def open_buckets(db: Database, redis_url: str | None) -> Buckets:
    """Redis buckets when ``REDIS_URL`` is set, else database buckets."""
    return RedisBuckets(redis_url) if redis_url else DatabaseBuckets(db)


async def prune(session: AsyncSession) -> int:
    """Drop pair buckets that are full again and reach records older than 24 hours."""
    return await prune_idle_pairs(session) + await messaging_tier.prune(session)
