"""Releasing one worker's sends at evenly spaced slots of the number's shared bucket.

One timer per worker, not one sleeping task per message: the worker reserves a block of
tokens from the shared throughput bucket (a few tens of milliseconds' worth, see
:mod:`ovenai.outbox.limits`), each token a slot in time, and hands them out one by one as
their time comes. A slot is only good for ``tolerance_s`` after its time: on a busy machine
a late wake-up would otherwise release the late sends together with the next on-time ones,
and a one-second window would hold more than the cap. A slot missed by more than that is
dropped (its token is not used), and a send that finds its slot gone just before the call
asks for another. So every send starts within ``tolerance_s`` of a slot that no other
worker holds, and no one-second window carries more than
``rate * (1 + tolerance_s + EARLY_S) + capacity`` sends.

A slot less than ``EARLY_S`` away counts as come: the event loop's timers have millisecond
resolution (uvloop rounds a shorter sleep to none), so waiting for it would spin the loop,
which once cost more CPU than all the sends (bench/outbound, capped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque

from ovenai.outbox.bucket_store import Buckets
from ovenai.outbox.token_bucket import Bucket, Grant

log = logging.getLogger("ovenai.outbox")
EARLY_S = 0.001  # the event loop's timer resolution


class Pacer:
    """Slots of one shared bucket, reserved in blocks and released as their time comes.

    The next block is asked for while ``lead_s`` of slots are still left, so that slots
    follow each other without a gap: the bucket saves up only a few tokens, and a worker
    that waited for its answer before asking again would lose the tokens of the wait.
    ``lead_s`` is as long as the horizon allows (``horizon_s - block_s``, so a full block
    still fits): on SQLite the answer waits behind the worker's other transactions, and
    answers of 0.1-0.3 s were seen under load (bench/outbound, capped).
    """

    def __init__(
        self,
        buckets: Buckets,
        bucket: Bucket,
        *,
        block_s: float = 0.05,
        horizon_s: float = 0.25,
        tolerance_s: float = 0.015,
        most: int = 64,
    ) -> None:
        self.buckets = buckets
        self.bucket = bucket
        self.block = max(1, round(bucket.rate * block_s))
        self.most = most  # never more slots at once than sends can be in flight
        self.lead_s = max(block_s, horizon_s - block_s)
        self.horizon_s = horizon_s
        self.tolerance_s = tolerance_s
        self.missed = 0  # slots dropped because the worker woke too late for them
        self._slots: deque[float] = deque()  # loop times, ascending
        self._reserving: asyncio.Task[None] | None = None

    @staticmethod
    def now() -> float:
        """The event loop's clock, which the slots are kept in."""
        return asyncio.get_running_loop().time()

    async def acquire(self, wanted: int) -> float:
        """Wait for the next free slot; the time by which its send must have started.

        ``wanted`` is how many sends are waiting: no more slots are reserved than that.
        """
        while True:
            self._top_up(wanted)
            if not self._slots:
                reserving = self._reserving
                assert reserving is not None
                await reserving  # its error, if it failed, is the caller's
                if reserving is self._reserving:
                    # It had finished already, so the await did not yield and its done
                    # callback has not run yet: forget it here, or this loop would await
                    # the same finished task for ever without letting the loop run
                    # (a worker spun at full CPU and never saw its SIGTERM).
                    self._reserving = None
                continue
            now = self.now()
            slot = self._slots[0]
            if slot - now > EARLY_S:
                await asyncio.sleep(slot - now)
                continue
            self._slots.popleft()
            if now - slot <= self.tolerance_s:
                return slot + self.tolerance_s
            self.missed += 1

    def _top_up(self, wanted: int) -> None:
        """Ask for the next block in the background when the slots left run short."""
        if self._reserving is not None or len(self._slots) >= wanted:
            return
        if self._slots and self._slots[-1] - self.now() > self.lead_s:
            return
        self._reserving = asyncio.create_task(self._reserve(wanted - len(self._slots)))
        self._reserving.add_done_callback(self._reserved)

    def _reserved(self, task: asyncio.Task[None]) -> None:
        if self._reserving is task:  # not a later reservation begun meanwhile
            self._reserving = None
        if not task.cancelled() and task.exception() is not None:
            log.warning("reserving sending slots failed: %r", task.exception())

    async def _reserve(self, wanted: int) -> None:
        asked_wall, asked_loop = time.time(), self.now()
        want = max(1, min(wanted, self.block, self.most))
        grant = await self.buckets.reserve(self.bucket, want, self.horizon_s)
        if not grant.delays:
            # at least a timer tick: a shorter sleep is none, and asking again at once spins
            await asyncio.sleep(max(grant.retry_after, EARLY_S))
            return
        self._slots.extend(_slot_times(grant, asked_wall, asked_loop, time.time(), self.now()))

    async def close(self) -> None:
        """Forget the slots not used yet and stop reserving (the worker stops)."""
        self._slots.clear()
        if self._reserving is not None:
            self._reserving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reserving


class Unpaced:
    """No throughput limit to pace to: every send may start at once (``acquire`` never waits).

    For measuring the pipeline's own ceiling (``bench/outbound --cap 0``) and for a Cloud
    API that enforces no rate; Meta's numbers always have one (Meta: Overview › Throughput).
    """

    missed = 0

    async def acquire(self, wanted: int) -> float:
        """No slot to wait for; no deadline to start by."""
        return math.inf

    async def close(self) -> None:
        """Nothing reserved, nothing to give back."""


def _slot_times(
    grant: Grant, asked_wall: float, asked_loop: float, got_wall: float, got_loop: float
) -> list[float]:
    """The grant's slots on the loop clock.

    The bucket measured its delays from its own clock reading (``grant.at``), taken while we
    waited for the answer; slots of several workers line up only when each worker counts
    from that reading rather than from when its answer arrived. A reading outside our wait
    (another machine's clock) is clamped into it.
    """
    at = grant.at if grant.at is not None else got_wall
    at = min(max(at, asked_wall), got_wall)
    start = asked_loop + (at - asked_wall) if got_loop >= asked_loop else got_loop
    return [start + delay for delay in grant.delays]
