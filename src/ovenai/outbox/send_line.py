"""One worker's admitted sends on their way out: pair-limit wait, throughput slot, the call.

An admitted job waits in memory for its pair-limit slot (a timer each), then in line for a
slot of the number's shared throughput bucket (one timer for the worker,
:class:`~ovenai.outbox.pacing.Pacer`), then runs as a send in flight, at most
``concurrency`` at a time. The dispatcher claims more while no more than ``ahead`` jobs are
outstanding, and gives back what is still here when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from ovenai.outbox.claims import Job
from ovenai.outbox.pacing import Pacer, Unpaced

log = logging.getLogger("ovenai.outbox")
# After the shared bucket could not be asked for slots (its database or Redis unreachable),
# wait this long before asking again, so that a store that is down is not hammered and the
# log not flooded. No reason for exactly 1 s is recorded.
SLOTS_RETRY_S = 1.0

# Sends one job, given the loop time by which it must start (its slot's end).
Send = Callable[[Job, float], Coroutine[Any, Any, None]]
# Whether a job may no longer be sent by this worker; when so, it has been given back.
GiveBackLate = Callable[[Job], bool]


class SendLine:
    """Jobs waiting for their pair slot, ready for a throughput slot, or in flight."""

    def __init__(
        self,
        pacer: Pacer | Unpaced,
        send: Send,
        *,
        concurrency: int,
        ahead: int,
        late: GiveBackLate | None = None,
    ):
        self.pacer = pacer
        self.ahead = ahead
        self._late = late
        self.closing = False  # the worker is stopping: start nothing more
        self.room = asyncio.Event()  # set when the outstanding jobs fall to ``ahead``
        self._send = send
        self._sem = asyncio.Semaphore(concurrency)
        self._ready: deque[Job] = deque()  # admitted, waiting for a slot
        self._later: dict[str, tuple[asyncio.TimerHandle, Job]] = {}  # waiting for its pair
        self._tasks: set[asyncio.Task[None]] = set()  # sends in flight
        self._has_ready = asyncio.Event()
        self._settled = asyncio.Event()  # nothing waiting or in flight
        self._releasing: asyncio.Task[None] | None = None

    def outstanding(self) -> int:
        """Jobs waiting or in flight."""
        return len(self._ready) + len(self._later) + len(self._tasks)

    def full(self) -> bool:
        """Whether more than ``ahead`` jobs are still waiting or in flight (claim no more yet)."""
        return self.outstanding() > self.ahead

    def queue(self, job: Job, delay: float) -> None:
        """Make a job ready now, or once its pair-limit slot comes ``delay`` s from now."""
        if delay <= 0:
            self.make_ready(job)
            return
        handle = asyncio.get_running_loop().call_later(delay, self._pair_due, job.id)
        self._later[job.id] = (handle, job)

    def _pair_due(self, job_id: str) -> None:
        self.make_ready(self._later.pop(job_id)[1])

    def make_ready(self, job: Job, *, first: bool = False) -> None:
        """Put a job in line for a slot: last, or ``first`` (it lost the slot it had)."""
        if first:
            self._ready.appendleft(job)
        else:
            self._ready.append(job)
        self._has_ready.set()

    def start(self) -> None:
        """Start releasing ready jobs, unless already releasing."""
        if self._releasing is None or self._releasing.done():
            self._releasing = asyncio.create_task(self._release())

    async def _release(self) -> None:
        """Start ready sends, each at its own slot of the shared bucket, until closing."""
        while not self.closing:
            self._drop_late()
            if not self._ready:
                self._has_ready.clear()
                await self._has_ready.wait()
                continue
            await self._sem.acquire()
            try:
                deadline = await self.pacer.acquire(len(self._ready))
            except Exception:
                self._sem.release()
                log.exception("could not reserve sending slots; trying again shortly")
                await asyncio.sleep(SLOTS_RETRY_S)
                continue
            self._drop_late()
            if self.closing or not self._ready:
                self._sem.release()
                continue
            self._start(self._ready.popleft(), deadline)

    def _drop_late(self) -> None:
        """Take out of the line the jobs at its head that may no longer be sent here (given
        back by ``late``), before they take a slot of the shared rate.

        A slot spent on a job that is then given back is lost to every job behind it: when
        a worker's share of the rate could not send what it had claimed before its claims'
        time ran out, every later job aged out in its turn, each spending a slot, and
        sending stopped (the cluster drill at 20 messages a second, two workers).
        """
        if self._late is None:
            return
        dropped = False
        while self._ready and self._late(self._ready[0]):
            self._ready.popleft()
            dropped = True
        if dropped and self.outstanding() <= self.ahead:
            self.room.set()
        if dropped and self.outstanding() == 0:
            self._settled.set()

    def _start(self, job: Job, deadline: float) -> None:
        task = asyncio.create_task(self._send(job, deadline))
        self._tasks.add(task)
        self._settled.clear()
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._sem.release()
        outstanding = self.outstanding()
        if outstanding == self.ahead:
            self.room.set()
        if outstanding == 0:
            self._settled.set()

    async def stop(self) -> None:
        """Stop releasing and forget the slots reserved but not used."""
        if self._releasing is not None:
            self._releasing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._releasing
            self._releasing = None
        await self.pacer.close()

    async def close(self) -> None:
        """Start nothing more (the worker stops), then stop releasing."""
        self.closing = True
        await self.stop()

    async def settle(self) -> None:
        """Until nothing is waiting or in flight."""
        while self.outstanding():
            self._settled.clear()
            await self._settled.wait()

    async def finish_in_flight(self) -> None:
        """Until the sends in flight have finished (their outcomes are recorded by them)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def take_unsent(self) -> list[Job]:
        """Empty the line of jobs not started (their timers cancelled), in line order."""
        for handle, job in self._later.values():
            handle.cancel()
            self._ready.append(job)
        self._later.clear()
        unsent = list(self._ready)
        self._ready.clear()
        return unsent
