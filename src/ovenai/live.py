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
what it hears to the pages waiting in that process (:meth:`Changes.listen`, entered before
the page's first read, so a change committed right after that read is not missed), which
then read their conversation's version again (:func:`ovenai.bubbles.version`, one cheap query). A
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
from collections.abc import Collection, Iterator

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
        self._waiting: dict[str, set[Listener]] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False

    def start(self, url: str) -> None:
        """Watch the database at ``url`` until :meth:`stop`."""
        if self._task is None:
            self._stop.clear()
            self._closing = False
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.create_task(
                wakeups.watch(url, self.heard, self._stop, channel=CHANNEL)
            )

    async def stop(self) -> None:
        """Stop watching; pages still waiting are woken (they answer "unchanged")."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.heard("")

    def close_soon(self) -> None:
        """The process is stopping: every waiting page answers "unchanged" now and the next
        asks another process, instead of holding the stop for the rest of its wait. Safe
        from a signal handler or another thread (`ovenai serve`'s SIGTERM)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._close)

    def _close(self) -> None:
        self._closing = True
        for listeners in self._waiting.values():
            for listener in listeners:
                listener.closed()

    def heard(self, payload: str = "") -> None:
        """A notification's payload (lead ids, comma-separated), or "" for any lead."""
        if not payload:
            for listeners in self._waiting.values():
                for listener in listeners:
                    listener.told(LOOK_ANY_S)
            return
        for lead_id in payload.split(","):
            for listener in self._waiting.get(lead_id, ()):
                listener.told(LOOK_EVERY_S)

    @contextlib.contextmanager
    def listen(self, lead_id: str) -> Iterator[Listener]:
        """Be told of the lead's changes from now on: enter before reading the
        conversation's version, so a change committed after that read is never missed."""
        listener = Listener()
        if self._closing:
            listener.closed()
        self._waiting.setdefault(lead_id, set()).add(listener)
        try:
            yield listener
        finally:
            listeners = self._waiting.get(lead_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._waiting[lead_id]

    @property
    def waiting(self) -> int:
        """How many pages listen now (for tests)."""
        return sum(len(listeners) for listeners in self._waiting.values())


class Listener:
    """One waiting page's ear: told when its lead (or, on SQLite, anything) changed."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._hold_s = LOOK_EVERY_S
        self._looked = time.monotonic()
        self._closed = False

    def told(self, hold_s: float) -> None:
        """A change was heard; the page may look ``hold_s`` after its last look."""
        if not self._event.is_set():
            self._hold_s = hold_s
            self._event.set()

    def closed(self) -> None:
        """The process is stopping: the page stops waiting."""
        self._closed = True
        self._event.set()

    async def next(self, timeout: float) -> bool:
        """Until told of a change since the last call (True: look now) or ``timeout``
        seconds passed or the process is stopping (False). Never sooner than
        :data:`LOOK_EVERY_S` after the last look (:data:`LOOK_ANY_S` when told only that
        something changed)."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        if self._closed or not self._event.is_set():
            return False
        rest = min(self._looked + self._hold_s, deadline) - time.monotonic()
        if rest > 0:
            await asyncio.sleep(rest)
        self._event.clear()  # what is told from here on is news for the next look
        self._looked = time.monotonic()
        return True
