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


_held: deque[Call] = deque(maxlen=HELD_AT_MOST)


def note(endpoint: str, seconds: float, *, failed: bool) -> None:
    """Hold one call's duration for the writer."""
    _held.append(Call(time.time(), endpoint, seconds, failed))


def take() -> list[Call]:
    """Every call held, oldest first; they are held no more."""
    return [_held.popleft() for _ in range(len(_held))]


def give_back(calls: list[Call]) -> None:
    """Hold again calls a writer took and could not store, before the newer ones; past
    :data:`HELD_AT_MOST`, the oldest of them are let go."""
    room = HELD_AT_MOST - len(_held)
    if room > 0:
        _held.extendleft(reversed(calls[-room:]))
