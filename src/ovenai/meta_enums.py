"""The base of every enum of Meta's values: new values Meta adds become ``UNKNOWN``.

STYLE.md convention 10. Both the Cloud API client and the webhook parser read Meta's
strings through it; the raw string is kept beside the member wherever it matters.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Self

log = logging.getLogger("ovenai.meta")


class MetaEnum(StrEnum):
    """A string enum whose unknown values map to its ``UNKNOWN`` member."""

    @classmethod
    def _missing_(cls, value: object) -> Self:
        log.warning("unknown %s value from Meta: %r", cls.__name__, value)
        return cls["UNKNOWN"]

    @classmethod
    def parse(cls, raw: str | None) -> Self:
        """The member for ``raw``, or ``UNKNOWN`` for a value Meta added since (quietly)."""
        if raw is not None and raw in cls._value2member_map_:
            return cls(raw)
        return cls["UNKNOWN"]
