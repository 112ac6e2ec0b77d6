"""The shared token buckets in Redis (``REDIS_URL``): one atomic Lua script per change.

The script refills, takes and penalizes on the Redis server with Redis's own clock, so
workers on several machines share one bucket without a lock round trip; the slots are then
worked out on the worker (:func:`ovenai.outbox.token_bucket.take`) from the level the
script saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ovenai.outbox.token_bucket import MAX_DEBT_S, Bucket, Grant, take

# A bucket's key lives this much longer than its refill from the deepest debt to full takes
# (the ttl is counted in whole seconds, rounded down), so it never expires while it could
# still be below full; a missing key then reads as full, which it would be. No reason for
# exactly 60 s is recorded.
KEY_TTL_MARGIN_S = 60

# KEYS[1] = bucket; ARGV = rate, capacity, want, horizon, penalty tokens, max debt, ttl.
# Returns {granted, level before taking, Redis's clock} (as strings: Lua numbers become
# ints). The 1e-9 is token_bucket.FIT_EPSILON, written out: the script's text is its id.
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
local want, horizon = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local level = cap
if state[1] then
  level = math.min(cap, tonumber(state[1]) + rate * math.max(0, now - tonumber(state[2])))
end
local granted = math.floor(level + horizon * rate + 1e-9)
if granted > want then granted = want end
if granted < 0 then granted = 0 end
local after = level - granted
if tonumber(ARGV[5]) > 0 then
  after = math.min(after, -math.min(tonumber(ARGV[5]), tonumber(ARGV[6])))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(after), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
return {granted, tostring(level), tostring(now)}
"""


class RedisBuckets:
    """Buckets in Redis (``REDIS_URL``): one atomic Lua script per change."""

    def __init__(self, url: str, *, prefix: str = "ovenai:bucket:") -> None:
        from redis.asyncio import Redis

        self.redis: Any = Redis.from_url(url)
        self.prefix = prefix
        self.script: Any = self.redis.register_script(_RESERVE_LUA)

    def _args(self, bucket: Bucket, want: int, horizon: float, penalty: float) -> list[Any]:
        ttl = int(bucket.capacity / bucket.rate + MAX_DEBT_S) + KEY_TTL_MARGIN_S
        debt = bucket.rate * MAX_DEBT_S
        return [bucket.rate, bucket.capacity, want, horizon, penalty, debt, ttl]

    @staticmethod
    def _grant(bucket: Bucket, answer: Sequence[Any], want: int, horizon: float) -> Grant:
        grant, _ = take(float(answer[1]), bucket.rate, want, horizon)
        return Grant(grant.delays, grant.retry_after, at=float(answer[2]))

    async def reserve(self, bucket: Bucket, want: int, horizon: float) -> Grant:
        """Reserve tokens of one bucket atomically on the Redis server."""
        keys = [self.prefix + bucket.name]
        answer = await self.script(keys=keys, args=self._args(bucket, want, horizon, 0.0))
        return self._grant(bucket, answer, want, horizon)

    async def reserve_each(self, buckets: Sequence[Bucket], horizon: float) -> list[Grant]:
        """Reserve one token of each bucket in one pipelined round trip."""
        if not buckets:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for bucket in buckets:
                args = self._args(bucket, 1, horizon, 0.0)
                await self.script(keys=[self.prefix + bucket.name], args=args, client=pipe)
            answers = await pipe.execute()
        return [self._grant(b, a, 1, horizon) for b, a in zip(buckets, answers, strict=True)]

    async def penalize(self, bucket: Bucket, seconds: float) -> None:
        """Push the bucket into debt so every worker waits."""
        args = self._args(bucket, 0, 0.0, bucket.rate * seconds)
        await self.script(keys=[self.prefix + bucket.name], args=args)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()
