"""What the columns of every table share: time-ordered ids and UTC timestamps.

Both databases (the data and the key store) use these, so they sit below :mod:`ovenai.db`
and :mod:`ovenai.keystore`, importing neither.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from ovenai import dialects


def new_id() -> str:
    """A time-ordered UUID (version 7) as a string: sortable, so cursors can use it."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68) << 64  # 12 random bits
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    h = f"{value:032x}"  # as str(uuid.UUID(int=value)) spells it, in half its time
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def id_millis(value: str) -> int:
    """When an id of :func:`new_id` was made, in milliseconds since the epoch."""
    return uuid.UUID(value).int >> 80


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no time zone type; storing UTC and re-attaching the zone on read makes both
    databases behave the same. Naive datetimes are refused: they are always a bug here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value if dialects.is_postgresql(dialect) else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stored_datetimes(dialect: Dialect) -> Callable[[datetime | None], Any]:
    """What ``UTCDateTime`` hands the driver for a value (naive datetimes refused)."""
    processor = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert processor is not None  # UTCDateTime always converts
    return processor


def read_datetimes(dialect: Dialect) -> Callable[[Any], datetime | None]:
    """What ``UTCDateTime`` makes of a value the driver returned (UTC, timezone-aware)."""
    processor = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    assert processor is not None  # UTCDateTime always converts
    return processor
