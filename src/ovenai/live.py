"""Live conversations: a page waiting for its lead's conversation to change is told when it
may have, instead of asking every few seconds.

Whoever changes what a conversation shows — the webhook processor applying messages and
statuses, the outbox writing a send's outcome, the media job storing a file — calls
:func:`announce` in its transaction with the leads it touched. On PostgreSQL that is
``NOTIFY ovenai_conversations`` with the lead ids as payload (delivered at commit, never for
a rolled-back transaction; cut into pieces under PostgreSQL's 8,000-byte limit). On SQLite,
one machine without notifications, serve reads ``PRAGMA data_version`` instead
(:func:`ovenai.wakeups.watch`), which changes at any other connection's commit, and every
waiting page looks again.

Each serve process keeps one :class:`Changes`: its watcher (started with the app) hands
what it hears to the pages waiting in that process (:meth:`Changes.wait`), which then read
their conversation's version again (:func:`ovenai.bubbles.version`, one cheap query). A
page looks at most every :data:`LOOK_EVERY_S` when told its lead changed and every
:data:`LOOK_ANY_S` when told only that something did, so a burst of commits costs each
waiting page a few reads a second at most; a lost watcher connection is made again by
:mod:`ovenai.wakeups`, and a page never waits longer than it asked (it then asks again), so
a missed notification delays an update, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Collection

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects, wakeups

CHANNEL = "ovenai_conversations"
LOOK_EVERY_S = 0.1
"""The shortest time between two looks of one waiting page told its lead changed."""
LOOK_ANY_S = 0.4
"""The same when told only that something changed (SQLite: any commit, thousands a second
under webhook load): each waiting page then reads its version at most 2.5 times a second."""
_PAYLOAD_BYTES = 7_900  # PostgreSQL refuses a payload of 8,000 bytes or more
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


async def announce(session: AsyncSession, lead_ids: Collection[str]) -> None:
    """Tell the waiting pages of these leads, when this transaction commits, that their
    conversation may have changed (PostgreSQL; on SQLite serve sees the commit itself)."""
    if not lead_ids or not dialects.is_postgresql(session):
        return
    for payload in _pieces(sorted(lead_ids)):
        await session.execute(_NOTIFY, {"channel": CHANNEL, "payload": payload})


def _pieces(lead_ids: list[str]) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for lead_id in lead_ids:
        if current and size + len(lead_id) + 1 > _PAYLOAD_BYTES:
            pieces.append(",".join(current))
            current, size = [], 0
        current.append(lead_id)
        size += len(lead_id) + 1
    if current:
        pieces.append(",".join(current))
    return pieces


class Changes:
    """What one process's waiting pages are told: which leads changed, or that any may have."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[_Waiter]] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, url: str) -> None:
        """Watch the database at ``url`` until :meth:`stop`."""
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(
                wakeups.watch(url, self.heard, self._stop, channel=CHANNEL, heard=self.heard)
            )

    async def stop(self) -> None:
        """Stop watching; pages still waiting are woken (they answer "unchanged")."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.heard("")

    def heard(self, payload: str = "") -> None:
        """A notification's payload (lead ids, comma-separated), or "" for any lead."""
        if not payload:
            for waiters in self._waiting.values():
                for waiter in waiters:
                    waiter.told(LOOK_ANY_S)
            return
        for lead_id in payload.split(","):
            for waiter in self._waiting.get(lead_id, ()):
                waiter.told(LOOK_EVERY_S)

    async def wait(self, lead_id: str, timeout: float) -> bool:
        """Until the lead's conversation may have changed (True) or ``timeout`` seconds
        passed (False); never returns sooner than :data:`LOOK_EVERY_S` after it began (nor
        :data:`LOOK_ANY_S` when told only that something changed)."""
        started = time.monotonic()
        waiter = _Waiter()
        self._waiting.setdefault(lead_id, set()).add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.event.wait(), timeout)
        finally:
            waiters = self._waiting.get(lead_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiting[lead_id]
        if waiter.event.is_set():
            rest = min(waiter.hold_s, timeout) - (time.monotonic() - started)
            if rest > 0:
                await asyncio.sleep(rest)
        return waiter.event.is_set()

    @property
    def waiting(self) -> int:
        """How many pages wait now (for tests and the metrics)."""
        return sum(len(waiters) for waiters in self._waiting.values())


class _Waiter:
    """One waiting page: woken, and how long it holds from its start before it looks."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.hold_s = LOOK_EVERY_S

    def told(self, hold_s: float) -> None:
        if not self.event.is_set():
            self.hold_s = hold_s
            self.event.set()
