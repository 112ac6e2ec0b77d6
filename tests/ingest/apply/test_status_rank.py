"""Statuses apply forward only, by rank; failed sits between sent and delivered."""

from __future__ import annotations

import pytest

from ovenai.events.enums import DeliveryStatus
from ovenai.ingest.apply.status_rank import status_rank, supersedes


def test_it_ranks_sent_then_delivered_then_read_then_played() -> None:
    ranks = [status_rank(s) for s in ("sent", "delivered", "read", "played")]
    assert ranks == sorted(ranks) and len(set(ranks)) == 4


@pytest.mark.parametrize(
    ("current", "new", "applies"),
    [
        (None, "sent", True),
        (None, "delivered", True),
        ("sent", "delivered", True),
        ("delivered", "read", True),
        ("read", "played", True),
        ("read", "delivered", False),
        ("delivered", "sent", False),
        ("read", "read", False),
        ("sent", "failed", True),
        (None, "failed", True),
        ("delivered", "failed", False),
        ("read", "failed", False),
        ("failed", "delivered", True),
        ("failed", "read", True),
        ("failed", "sent", False),
    ],
)
def test_it_keeps_read_when_delivered_arrives_late_and_handles_failed_per_the_rules(
    current: str | None, new: str, applies: bool
) -> None:
    assert supersedes(new, current) is applies


@pytest.mark.parametrize("status", ["deleted", "warning", "deferred", ""])
def test_it_never_applies_an_unknown_or_on_premises_status(status: str) -> None:
    assert status_rank(status) == 0
    assert not supersedes(status, None)


def test_it_accepts_the_enum_as_well_as_the_raw_string() -> None:
    assert status_rank(DeliveryStatus.READ) == status_rank("read")
