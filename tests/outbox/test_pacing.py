"""The pacer hands out its reserved slots and never spins on a finished reservation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from ovenai.outbox.pacing import Pacer
from ovenai.outbox.token_bucket import Bucket, Grant

BUCKET = Bucket("number", rate=1000.0, capacity=10.0)


class NowBuckets:
    """A bucket store that grants every token at once (the pacer's logic alone, on its own
    event loop in a thread; the real stores have their own tests)."""

    def __init__(self) -> None:
        self.asked = 0

    async def reserve(self, bucket: Bucket, want: int, horizon: float) -> Grant:
        self.asked += 1
        return Grant(delays=[0.0] * want)

    async def reserve_each(self, buckets: Sequence[Bucket], horizon: float) -> list[Grant]:
        return [Grant(delays=[0.0]) for _ in buckets]

    async def penalize(self, bucket: Bucket, seconds: float) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _in_a_thread(work: object) -> list[object]:
    """Run a coroutine function on an event loop of its own; what it returned, if it did
    within 10 s (a loop that never yields cannot be timed out from inside)."""
    done: list[object] = []
    thread = threading.Thread(target=lambda: done.append(asyncio.run(work())), daemon=True)  # type: ignore[operator]
    thread.start()
    thread.join(10)
    return done


def test_a_reservation_that_finished_before_its_callback_ran_is_not_awaited_for_ever() -> None:
    buckets = NowBuckets()

    async def work() -> float:
        pacer = Pacer(buckets, BUCKET)
        finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        finished.set_result(None)
        # As when the reserving task finished while acquire was away: done, its done
        # callback (which forgets it) not run yet.
        pacer._reserving = finished  # type: ignore[assignment]
        return await pacer.acquire(1)

    assert _in_a_thread(work), "acquire spun on a finished reservation"
    assert buckets.asked >= 1  # it reserved afresh


def test_slots_are_handed_out_one_by_one_each_with_its_deadline() -> None:
    buckets = NowBuckets()

    async def work() -> list[float]:
        pacer = Pacer(buckets, BUCKET, tolerance_s=0.5)
        loop = asyncio.get_running_loop()
        deadlines = [await pacer.acquire(3) for _ in range(5)]
        assert all(deadline > loop.time() - 0.5 for deadline in deadlines)
        await pacer.close()
        return deadlines

    [deadlines] = _in_a_thread(work)
    assert isinstance(deadlines, list) and len(deadlines) == 5
    assert deadlines == sorted(deadlines)  # in the order of their slots
