"""Each Graph API call's duration, held in memory until the process's writer stores it.

The transport notes every call here (:func:`note`); ``ovenai.graph_times`` takes what was
noted every few seconds and adds it to the database, where the key figures and the
slow-response alert read it. The client itself knows nothing of the database. What is held
is bounded (:data:`HELD_AT_MOST`): a process that never stores (a command that runs a few
calls and ends) keeps the newest calls only, and so does one whose database is away longer
than that many calls take.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

HELD_AT_MOST = 200_000  # about three minutes of sends at Meta's highest throughput tier


@dataclass(frozen=True, slots=True)
class Call:
    """One call: when it ended (Unix seconds), its endpoint kind, how long, whether it failed."""

    at: float
    endpoint: str
    seconds: float
    failed: bool


class Held:
    """Calls held for a writer, oldest first, at most ``most`` of them."""

    def __init__(self, most: int = HELD_AT_MOST) -> None:
        self.most = most
        self._calls: deque[Call] = deque(maxlen=most)

    def note(self, call: Call) -> None:
        """Hold one call (past ``most``, the oldest held is let go)."""
        self._calls.append(call)

    def take(self) -> list[Call]:
        """Every call held, oldest first; they are held no more."""
        return [self._calls.popleft() for _ in range(len(self._calls))]

    def give_back(self, calls: list[Call]) -> None:
        """Hold again calls a writer took and could not store, before the newer ones; past
        ``most``, the oldest of them are let go."""
        room = self.most - len(self._calls)
        if room > 0:
            self._calls.extendleft(reversed(calls[-room:]))


HELD = Held()  # this process's calls


def note(endpoint: str, seconds: float, *, failed: bool) -> None:
    """Hold one call's duration for the writer."""
    HELD.note(Call(time.time(), endpoint, seconds, failed))


def take() -> list[Call]:
    """Every call this process held, oldest first; they are held no more."""
    return HELD.take()


def give_back(calls: list[Call]) -> None:
    """Hold again calls a writer took and could not store (see :meth:`Held.give_back`)."""
    HELD.give_back(calls)
