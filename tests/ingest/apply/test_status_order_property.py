"""Any order and repetition of a message's statuses ends in the same state (property)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from ovenai.ingest.apply.delivery_statuses import Recorded, derive

T0 = 1767000000
STEPS = {
    "sent": Recorded("sent", datetime.fromtimestamp(T0, UTC)),
    "delivered": Recorded("delivered", datetime.fromtimestamp(T0 + 5, UTC)),
    "read": Recorded("read", datetime.fromtimestamp(T0 + 9, UTC)),
    "played": Recorded("played", datetime.fromtimestamp(T0 + 12, UTC)),
    "failed": Recorded("failed", datetime.fromtimestamp(T0 + 3, UTC), 131026, "undeliverable"),
}
START = {
    "status": "sending",
    "status_at": datetime.fromtimestamp(T0 - 1, UTC),
    **dict.fromkeys(("sent_at", "delivered_at", "read_at", "failed_at"), None),
    **dict.fromkeys(("error_code", "error_title", "error_detail"), None),
}


def apply_one_by_one(arrivals: list[str]) -> dict[str, object]:
    """Apply each arrival as the processor does: record it, re-derive from what is recorded."""
    state, recorded = dict(START), {}
    for name in arrivals:
        recorded[name] = STEPS[name]
        state = derive(state, recorded.values())
    return state


@given(st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=12), st.randoms())
def test_any_order_and_repetition_ends_in_the_same_state(arrivals, rng) -> None:
    shuffled = list(arrivals) + list(arrivals)
    rng.shuffle(shuffled)
    in_order = sorted(set(arrivals), key=list(STEPS).index)
    assert apply_one_by_one(shuffled) == apply_one_by_one(in_order)


@given(st.permutations(sorted(STEPS)))
def test_all_statuses_in_any_order_end_played_with_the_error_kept(order) -> None:
    state = apply_one_by_one(list(order))
    assert state["status"] == "played"
    assert state["error_code"] == 131026
    assert state["delivered_at"] == STEPS["delivered"].at
