"""Durations summarised by log-spaced buckets: percentiles without sorting every value.

The key figures' webhook processing times (``ovenai.kpis``) were percentiles of every body
of the period, sorted (333,000 durations for 30 days at a million messages: 230-430 ms of
a report). Counted into buckets whose bounds grow by a fixed ratio instead, a period is a
``GROUP BY`` of a few hundred groups, and a percentile is read off the bucket that holds
its rank (the relative-error sketch of Masson et al., "DDSketch", VLDB 2019).

The approximation (docs/architecture.md "Key figures"): bucket ``k`` holds the durations
in (GAMMA^(k-1), GAMMA^k] seconds, GAMMA = (1 + ALPHA) / (1 - ALPHA); a percentile is
given as 2 GAMMA^k / (GAMMA + 1), kept within the smallest and largest duration the
bucket really holds, so it is within ALPHA (1 %) of the exact value. Durations under
FLOOR_S (1 ms) count as FLOOR_S, so those are within 1 ms. The count, mean and largest
value are exact (summed, not bucketed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Float, func

ALPHA = 0.01  # the relative error of a percentile
GAMMA = (1 + ALPHA) / (1 - ALPHA)
LOG_GAMMA = math.log(GAMMA)
FLOOR_S = 0.001  # durations under a millisecond count as one


@dataclass(frozen=True)
class Bucket:
    """The durations of one bucket: how many, their sum, the smallest and the largest."""

    index: int
    count: int
    total: float
    least: float
    most: float


def bucket_of(seconds: float) -> int:
    """The bucket a duration (in seconds, not negative) falls in."""
    return math.ceil(math.log(max(seconds, FLOOR_S)) / LOG_GAMMA)


def bucket_in_sql(seconds: ColumnElement[float]) -> ColumnElement[float]:
    """``bucket_of`` in SQL (PostgreSQL: ``ln``, ``ceil``; a value on a bucket's bound
    may fall in the next bucket by rounding, whose estimate is still within ALPHA of it)."""
    return func.ceil(func.ln(func.greatest(seconds, FLOOR_S)) / LOG_GAMMA, type_=Float)


def buckets_of(values: Iterable[float]) -> list[Bucket]:
    """Durations (seconds, not negative) counted into their buckets, in Python (SQLite has
    no ``ln`` unless built with its math functions)."""
    found: dict[int, list[float]] = {}
    for value in values:
        index = bucket_of(value)
        seen = found.get(index)
        if seen is None:
            found[index] = [1, value, value, value]
        else:
            seen[0] += 1
            seen[1] += value
            seen[2] = min(seen[2], value)
            seen[3] = max(seen[3], value)
    return [
        Bucket(index, int(count), total, least, most)
        for index, (count, total, least, most) in found.items()
    ]


@dataclass(frozen=True)
class Summary:
    """Count, mean, median, 95th percentile (nearest rank) and largest of the durations."""

    count: int
    mean: float
    median: float
    p95: float
    most: float


def summarise(buckets: Iterable[Bucket]) -> Summary | None:
    """The summary of bucketed durations (None: there are none). The median interpolates
    between the two middle ranks as ``statistics.median`` does; the 95th percentile is the
    value at rank ceil(0.95 n), as the exact summaries give them."""
    ordered = sorted((b for b in buckets if b.count), key=lambda b: b.index)
    count = sum(b.count for b in ordered)
    if not count:
        return None

    def at(rank: int) -> float:  # the value at this rank (1-based), within ALPHA
        seen = 0
        for bucket in ordered:
            seen += bucket.count
            if seen >= rank:
                estimate = 2 * GAMMA**bucket.index / (GAMMA + 1)
                return min(max(estimate, bucket.least), bucket.most)
        raise AssertionError("rank beyond the count")  # pragma: no cover

    half = count // 2
    median = at(half + 1) if count % 2 else (at(half) + at(half + 1)) / 2
    return Summary(
        count=count,
        mean=sum(b.total for b in ordered) / count,
        median=median,
        p95=at(max(1, int(-(-count * 0.95 // 1)))),  # as kpis.Timing.of
        most=max(b.most for b in ordered),
    )
