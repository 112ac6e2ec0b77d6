"""How many messages one claim takes: what this worker can send while the claim is safely its.

A worker sends a claimed message only within the first half of its claim (``Job.send_by``:
``claim_ttl_s / 2`` after the claim); one still waiting then is given back unsent. Workers
share the number's rate (one bucket, :mod:`ovenai.outbox.pacing`), so at a low rate a whole
batch (half a second of the *number's* rate, at least 200) is more than one worker's share
sends in time: it claimed, gave back, claimed again, and the database did the work for nothing
(two workers at 20 messages a second: most of each claim went back).

The rule: this worker's share of the rate is the number's bucket rate divided by the workers
alive (their heartbeats, :mod:`ovenai.heartbeats`, itself counted even before its first beat),
so in the ``claim_ttl_s / 2`` a new claim gives it, it sends ``share * claim_ttl_s / 2``
messages, those already in its line first. A claim takes that, times :data:`MARGIN` (half),
minus the jobs in the line, and never more than the batch. It is not made at all while that is
less than half of it (or of the batch, if smaller): the line refills in a few large claims
rather than in one small claim per poll.

Why this rule rather than the worker's own measured send rate: the rate a worker measured is
what it had to send, not what it could (an idle worker would claim nothing), while the
heartbeats are already written every 15 s by every worker and read here every
:data:`WORKERS_EVERY_S`. A killed worker is counted until its heartbeat goes stale (60 s):
meanwhile the others claim less than they could, and still send at the whole rate (the shared
bucket gives them its slots; they only claim more often). A worker that sends slower than its
share (the bucket held by Meta's throttling, a busy machine) still gives back what ages out,
as before.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from ovenai import heartbeats
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import ServiceUnavailable
from ovenai.outbox.dispatch_config import DispatchConfig

log = logging.getLogger("ovenai.outbox")
# The part of its share's time a claim fills: the rest absorbs the slots' jitter, an uneven
# split of the shared bucket between workers, the claim's own time (database, decryption)
# before the first send, and a busy machine: a worker sending at half its share still sends
# in time. With 0.8, two workers at 20 a second on this 2-core box at load 12-15 gave back
# 9-51 of 160 messages in 3 of 9 runs (tests/outbox/test_claim_size.py); none with 0.5.
MARGIN = 0.5
# How often the workers alive are counted again: a worker appears at its first heartbeat
# (when it starts) and is gone when it stops. No reason for exactly 5 s is recorded.
WORKERS_EVERY_S = 5.0


def capacity(config: DispatchConfig, workers: int) -> int | None:
    """How many jobs this worker can have in its line and still send each in time (at least
    one); None: unpaced, no limit."""
    if config.messages_per_second is None:
        return None
    share = config.number_bucket.rate / max(1, workers)
    return max(1, math.floor(share * config.claim_ttl_s / 2 * MARGIN))


def claim_limit(config: DispatchConfig, workers: int, waiting: int) -> int:
    """How many messages to claim with ``waiting`` jobs in the line ahead of them (0: no
    claim now); never more than the batch."""
    batch = config.claim_batch
    most = capacity(config, workers)
    if most is None:
        return batch
    room = min(batch, most - waiting)
    return room if room >= min(batch, math.ceil(most / 2)) else 0


class ClaimSize:
    """The claim limit of one worker, with the workers alive counted every few seconds."""

    def __init__(
        self,
        db: Database,
        config: DispatchConfig,
        worker_id: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.config = config
        self.worker_id = worker_id
        self.workers = 1  # until counted
        self._clock = clock
        self._counted_at = -math.inf

    async def limit(self, waiting: int) -> int:
        """How many messages to claim now, ``waiting`` jobs being in the line (0: none)."""
        if self.config.messages_per_second is not None:
            await self._count_workers()
        return claim_limit(self.config, self.workers, waiting)

    async def _count_workers(self) -> None:
        now = self._clock()
        if now - self._counted_at < WORKERS_EVERY_S:
            return
        self._counted_at = now
        try:
            async with self.db.reading() as session:
                alive = await heartbeats.alive(session, utcnow())
        except ServiceUnavailable:  # the database away for a moment: keep the last count
            log.warning("could not count the workers alive; claiming as for %d", self.workers)
            return
        # A heartbeat's name is cut at 64 characters (heartbeats.beat): this worker's too.
        own = f"{heartbeats.PREFIX}{self.worker_id}"[:64].removeprefix(heartbeats.PREFIX)
        self.workers = len({beat.worker_id for beat in alive} | {own})
