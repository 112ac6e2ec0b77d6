"""The base of every enum of Meta's values: new values Meta adds become ``UNKNOWN``.

Meta adds values without notice. Both the Cloud API client and the webhook parser read Meta's
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


class TemplateStatus(MetaEnum):
    """A template's review state, as listed and as ``message_template_status_update.event``
    reports it (Meta: Templates › Overview; Webhooks › message_template_status_update)."""

    APPROVED = "APPROVED"
    PENDING = "PENDING"
    REJECTED = "REJECTED"
    PAUSED = "PAUSED"
    DISABLED = "DISABLED"
    IN_APPEAL = "IN_APPEAL"
    PENDING_DELETION = "PENDING_DELETION"
    DELETED = "DELETED"
    ARCHIVED = "ARCHIVED"
    UNARCHIVED = "UNARCHIVED"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    FLAGGED = "FLAGGED"
    REINSTATED = "REINSTATED"
    LOCKED = "LOCKED"
    UNKNOWN = "UNKNOWN"
