"""Token-bucket arithmetic shared by every store of the sending limits (no I/O here).

A bucket may go into debt: taking a token that is not there yet gives a send *time* (a
slot) instead of a refusal, so bursts borrow from later and the pace evens out. The stores
(:mod:`ovenai.outbox.bucket_store`, :mod:`ovenai.outbox.redis_buckets`) keep each bucket's
level and last change; the numbers are worked out here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# A bucket never goes deeper into debt than this many seconds of its rate (penalties
# included), so a runaway penalty cannot stop a number for long. It is above every penalty
# retry.py asks for (at most RetryPolicy.cap_s, 300 s); no reason for exactly 600 s is
# recorded.
MAX_DEBT_S = 600.0
# Rounding slack when counting the whole tokens that fit: level + horizon * rate computed in
# floats can land a hair under a whole number that it equals.
FIT_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Bucket:
    """A named token bucket: ``rate`` tokens per second, at most ``capacity`` saved up."""

    name: str
    rate: float
    capacity: float


@dataclass(frozen=True, slots=True)
class Grant:
    """Tokens reserved: the delay (s from now) of each; when short, when to ask again."""

    delays: list[float]
    retry_after: float = 0.0
    at: float | None = None  # the bucket's clock (epoch s) the delays count from, if known


def refill(tokens: float, rate: float, capacity: float, elapsed: float) -> float:
    """The level of a bucket after ``elapsed`` seconds of refilling."""
    return min(capacity, tokens + rate * max(0.0, elapsed))


def take(level: float, rate: float, want: int, horizon: float) -> tuple[Grant, float]:
    """Reserve up to ``want`` tokens whose slot lies within ``horizon`` s; the new level.

    The i-th token's slot is when the level, after paying for it, is back at zero.
    """
    fits = math.floor(level + horizon * rate + FIT_EPSILON)
    granted = max(0, min(want, fits))
    delays = [max(0.0, (i + 1 - level) / rate) for i in range(granted)]
    retry_after = 0.0
    if granted < want:
        retry_after = max(0.0, (granted + 1 - level) / rate - horizon)
    return Grant(delays, retry_after), level - granted


def debt_level(bucket: Bucket, seconds: float) -> float:
    """The level that holds ``bucket`` in debt for ``seconds`` (at most ``MAX_DEBT_S``)."""
    return -bucket.rate * min(seconds, MAX_DEBT_S)
