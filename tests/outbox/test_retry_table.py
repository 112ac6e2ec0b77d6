"""What the worker does after each of Meta's error codes: table-driven, then properties.

Each row goes from Meta's code through the classifier (``classify.from_response``, as the
client raises it) to the default :class:`RetryPolicy`'s verdict: pause, retry after how
long, fail; and which shared bucket is slowed down, by how much. The rows are the repo's
reading of Meta's table (docs/whatsapp-api-notes.md, "Retry verdicts"; ``outbox/retry.py``):
auth pauses everything; throttling never fails and slows the number's bucket (the pair's for
131056, 4^X s), its waits growing with the throttling answers the message had in a row
before (``throttled``: the worker refunds a throttled attempt, so the attempt number cannot
grow); transient backs off with jitter and a cap, named waits at least as long as Meta says,
then fails; deferred codes are tried once more only after a documented wait; everything else
fails at once.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ovenai.cloudapi import classify
from ovenai.cloudapi.errors import CloudApiFailure
from ovenai.outbox.retry import Action, RetryPolicy, SlowDown, Verdict

POLICY = RetryPolicy()  # the worker's own (base 2 s, cap 300 s, 8 tries, throttle base 0.2 s)
HOUR, DAY = 3600.0, 86400.0


def error(code: int | None, status: int = 400) -> CloudApiFailure:
    body: dict[str, object] = {"message": "x"} if code is None else {"code": code}
    return classify.from_response(status, {"error": body})


def decide(
    code: int | None, attempt: int, seed: int = 0, status: int = 400, *, throttled: int = 0
) -> Verdict:
    return POLICY.decide(error(code, status), attempt, random.Random(seed), throttled=throttled)


def doubled_capped(base: float, cap: float, attempt: int) -> float:
    """``base`` doubled ``attempt - 1`` times, but never past ``cap`` (any attempt)."""
    top = base
    for _ in range(attempt - 1):
        if top >= cap:
            break
        top *= 2
    return min(cap, top)


def ceiling(attempt: int, base: float = POLICY.base_s) -> float:
    """The upper bound of the plain backoff on this attempt: doubling, capped."""
    return doubled_capped(base, POLICY.cap_s, attempt)


@dataclass(frozen=True)
class Row:
    """A verdict expected on one attempt: the action, the wait's bounds, the bucket slowed
    and the bounds of how much it is slowed."""

    action: Action
    wait: tuple[float, float] = (0.0, 0.0)
    bucket: SlowDown = SlowDown.NONE
    slowed: tuple[float, float] = (0.0, 0.0)


def pause() -> Row:
    return Row(Action.PAUSE)


def fail() -> Row:
    return Row(Action.FAIL)


def backoff(attempt: int, at_least: float = 0.0) -> Row:
    top = ceiling(attempt)
    return Row(Action.RETRY, (max(top / 2, at_least), max(top, at_least)))


def named_throttle(wait: float) -> Row:
    # Meta names the wait; up to 5 s is added so held messages do not all return together.
    return Row(Action.RETRY, (wait, wait + 5.0), SlowDown.NUMBER, (wait, wait))


def throughput(throttled: int) -> Row:
    """130429 after ``throttled`` throttling answers in a row: the backoff, one step later
    for each, from the throttle base."""
    top = ceiling(throttled + 1, POLICY.throttle_base_s)
    return Row(Action.RETRY, (top / 2, top), SlowDown.NUMBER, (min(top / 2, 2.0), min(top, 2.0)))


def pair(throttled: int) -> Row:
    # Meta: wait 4^X s for that user, X the failures before (from 0): 1, 4, 16 s ...
    wait = min(POLICY.cap_s, 4.0 ** min(throttled, 6))
    return Row(Action.RETRY, (wait, wait), SlowDown.PAIR, (wait, wait))


def deferred(wait: float, attempt: int) -> Row:
    # Tried once more after Meta's wait (plus up to 5 % of it), then failed for a human.
    return Row(Action.RETRY, (wait, wait * 1.05)) if attempt == 1 else fail()


AUTH = [0, 10, 190, 200, 250, 299, 131005]
GRAPH_LIMITS = [4, 613, 80007]
TRANSIENT = [1, 2, 131000, 131016, 133004, 139103]
NAMED_WAITS = {131057: 60.0, 133015: 300.0, 2494100: 120.0}
DEFERRED_WAITS = {131049: DAY, 132069: HOUR, 134101: 600.0}
DEFERRED_AT_ONCE = [368, 131048, 131064, 132015, 133008, 133009, 133016]
PERMANENT = [100, 131008, 131009, 131026, 131047, 131050, 131062, 132000, 132001, 132018]
PERMANENT += [3, 33, 470, 131051, 133010, 134100, 138000, 2388012]


def expected(code: int, attempt: int, throttled: int) -> Row:
    """The notes' verdict for ``code`` on the ``attempt``-th try, after ``throttled``
    throttling answers in a row (only throttling codes look at those)."""
    if code in AUTH:
        return pause()
    if code in GRAPH_LIMITS:
        return named_throttle(60.0)
    if code == 130429:
        return throughput(throttled)
    if code == 131056:
        return pair(throttled)
    if code in TRANSIENT or code in NAMED_WAITS:
        last = attempt >= POLICY.max_attempts
        return fail() if last else backoff(attempt, NAMED_WAITS.get(code, 0.0))
    if code in DEFERRED_WAITS:
        return deferred(DEFERRED_WAITS[code], attempt)
    assert code in DEFERRED_AT_ONCE or code in PERMANENT, code
    return fail()


CODES = [
    *AUTH, *GRAPH_LIMITS, 130429, 131056, *TRANSIENT, *NAMED_WAITS, *DEFERRED_WAITS,
    *DEFERRED_AT_ONCE, *PERMANENT,
]  # fmt: skip
ATTEMPTS = [1, 2, 3, 5, 7, 8, 9, 20]
THROTTLED = [0, 1, 2, 4, 5, 6, 7, 19]  # throttling answers in a row before this one


def check(verdict: Verdict, row: Row) -> None:
    assert verdict.action is row.action
    assert row.wait[0] <= verdict.delay_s <= row.wait[1], (verdict.delay_s, row.wait)
    assert verdict.slow_down is row.bucket
    assert row.slowed[0] <= verdict.slow_down_s <= row.slowed[1], (verdict.slow_down_s, row)


@pytest.mark.parametrize("attempt", ATTEMPTS)
@pytest.mark.parametrize("code", CODES)
def test_each_code_gets_its_verdict_on_each_attempt(code: int, attempt: int) -> None:
    for throttled in THROTTLED:
        for seed in range(5):  # the bounds hold whatever the jitter draws
            verdict = decide(code, attempt, seed, throttled=throttled)
            check(verdict, expected(code, attempt, throttled))


def test_three_pair_limit_answers_in_a_row_wait_one_four_and_sixteen_seconds() -> None:
    # As the worker sees them: each refunded, so the attempt stays the first; the throttling
    # answers before each one are 0, 1, 2.
    verdicts = [decide(131056, 1, throttled=before) for before in range(3)]
    assert [v.delay_s for v in verdicts] == [1.0, 4.0, 16.0]
    assert [v.slow_down_s for v in verdicts] == [1.0, 4.0, 16.0]
    assert {v.slow_down for v in verdicts} == {SlowDown.PAIR}


def test_the_pair_limit_waits_grow_by_four_up_to_the_cap() -> None:
    waits = [decide(131056, 1, throttled=before).delay_s for before in range(8)]
    assert waits == [1.0, 4.0, 16.0, 64.0, 256.0, 300.0, 300.0, 300.0]


@pytest.mark.parametrize("seed", range(20))
def test_throughput_refusals_in_a_row_wait_longer_each_time(seed: int) -> None:
    waits = [decide(130429, 1, seed, throttled=before).delay_s for before in range(14)]
    # Each ceiling doubles and the jitter keeps at least its half: never shorter than the
    # wait before, up to the cap; from the first (0.1-0.2 s) to the cap's range in 12 steps.
    assert waits == sorted(waits)
    assert waits[0] <= 0.2 and waits[1] >= 0.2 and waits[2] >= 0.4
    assert POLICY.cap_s / 2 <= waits[-1] <= POLICY.cap_s


@pytest.mark.parametrize("code", [130429, 131056, 4, 613, 80007])
def test_a_throttled_verdict_depends_on_the_throttles_in_a_row_not_the_attempt(
    code: int,
) -> None:
    for before in (0, 1, 3):
        verdicts = {decide(code, attempt, 3, throttled=before) for attempt in (1, 2, 8, 50)}
        assert len(verdicts) == 1, verdicts


@pytest.mark.parametrize("attempt", [1_024, 1_025, 1_100, 10**6, 10**18])
def test_the_backoff_saturates_at_the_cap_however_many_the_attempts(attempt: int) -> None:
    # 2 ** 1024 is past what a float holds: these raised OverflowError before.
    for seed in range(5):
        assert POLICY.cap_s / 2 <= POLICY.backoff(attempt, random.Random(seed)) <= POLICY.cap_s
        throughput_wait = decide(130429, 1, seed, throttled=attempt).delay_s
        assert POLICY.cap_s / 2 <= throughput_wait <= POLICY.cap_s
    assert decide(131056, 1, throttled=attempt).delay_s == POLICY.cap_s


def test_a_deferred_code_is_not_tried_sooner_than_metas_wait() -> None:
    assert DAY <= decide(131049, 1, seed=7).delay_s <= DAY * 1.05  # not an opt-out: a day
    assert decide(131049, 2).action is Action.FAIL
    assert decide(131050, 1).action is Action.FAIL  # the user stopped marketing: an opt-out


# -- answers without a code Meta listed: the HTTP status decides ------------------------


@pytest.mark.parametrize("attempt", [1, 4, 8])
@pytest.mark.parametrize(
    ("status", "row"),
    [
        (401, lambda attempt: pause()),
        (403, lambda attempt: pause()),
        (429, lambda attempt: throughput(0)),  # the first throttling answer in a row
        (500, lambda attempt: fail() if attempt >= 8 else backoff(attempt)),
        (503, lambda attempt: fail() if attempt >= 8 else backoff(attempt)),
        (400, lambda attempt: fail()),
        (404, lambda attempt: fail()),
    ],
)
@pytest.mark.parametrize("code", [None, 999999])
def test_an_unlisted_code_follows_its_http_status(
    code: int | None, status: int, row: Callable[[int], Row], attempt: int
) -> None:
    check(decide(code, attempt, status=status), row(attempt))


def test_a_timeout_or_a_broken_connection_is_retried_with_backoff() -> None:
    rng = random.Random(1)
    for failure in (
        classify.timed_out("send_text", 5.0),
        classify.connection_failed("send_text", "reset"),
        classify.unexpected_body(502, "<html>"),
    ):
        for attempt in (1, 3):
            check(POLICY.decide(failure, attempt, rng), backoff(attempt))
        assert POLICY.decide(failure, POLICY.max_attempts, rng).action is Action.FAIL


# -- properties: bounds and jitter -------------------------------------------------------

policies = st.builds(
    RetryPolicy,
    base_s=st.floats(min_value=0.01, max_value=10.0),
    cap_s=st.floats(min_value=10.0, max_value=3600.0),
    max_attempts=st.integers(min_value=1, max_value=20),
    throttle_base_s=st.floats(min_value=0.01, max_value=1.0),
)


@given(policy=policies, attempt=st.integers(min_value=1, max_value=10**6), seed=st.integers())
def test_backoff_lies_between_half_and_all_of_the_doubled_capped_ceiling(
    policy: RetryPolicy, attempt: int, seed: int
) -> None:
    top = doubled_capped(policy.base_s, policy.cap_s, attempt)
    wait = policy.backoff(attempt, random.Random(seed))
    assert top / 2 <= wait <= top
    assert wait <= policy.cap_s


@given(policy=policies, attempt=st.integers(max_value=1), seed=st.integers())
def test_an_attempt_below_one_counts_as_the_first(
    policy: RetryPolicy, attempt: int, seed: int
) -> None:
    first = policy.backoff(1, random.Random(seed))
    assert policy.backoff(attempt, random.Random(seed)) == first


@given(policy=policies, attempt=st.integers(min_value=1, max_value=64), seed=st.integers())
def test_the_jitter_is_the_random_half_and_only_that(
    policy: RetryPolicy, attempt: int, seed: int
) -> None:
    # "Equal jitter": half of the ceiling fixed, the other half drawn from the given rng.
    top = doubled_capped(policy.base_s, policy.cap_s, attempt)
    drawn = random.Random(seed).uniform(0, top / 2)
    assert policy.backoff(attempt, random.Random(seed)) == pytest.approx(top / 2 + drawn)


@pytest.mark.parametrize("attempt", [1, 4, 9])
def test_the_jitter_spreads_waits_over_the_whole_random_half(attempt: int) -> None:
    top = ceiling(attempt)
    rng = random.Random(2026)
    waits = [POLICY.backoff(attempt, rng) for _ in range(400)]
    assert len(set(waits)) == len(waits)  # no two messages held by one answer come back together
    assert min(waits) < top * 0.55 and max(waits) > top * 0.95


def test_named_waits_and_deferred_waits_are_jittered_too() -> None:
    graph = {round(decide(4, 1, seed).delay_s, 6) for seed in range(50)}
    day = {round(decide(131049, 1, seed).delay_s, 3) for seed in range(50)}
    assert len(graph) == 50 and len(day) == 50


# A throttled try is refunded, so the attempt stays small; the throttles in a row do not,
# and nothing bounds them: the waits saturate at the cap instead of overflowing.
@given(
    code=st.sampled_from([4, 613, 80007, 130429, 131056]),
    attempt=st.integers(min_value=1, max_value=1000),
    throttled=st.integers(min_value=0, max_value=10**9),
    seed=st.integers(),
)
def test_throttling_never_fails_a_message(
    code: int, attempt: int, throttled: int, seed: int
) -> None:
    verdict = decide(code, attempt, seed, throttled=throttled)
    assert verdict.action is Action.RETRY
    assert 0 < verdict.delay_s <= POLICY.cap_s + 5.0
    assert verdict.slow_down is not SlowDown.NONE and verdict.slow_down_s <= verdict.delay_s


@given(
    attempt=st.integers(min_value=1, max_value=1000),
    throttled=st.integers(min_value=0, max_value=10**9),
    seed=st.integers(),
)
def test_a_throughput_refusal_holds_the_numbers_bucket_two_seconds_at_most(
    attempt: int, throttled: int, seed: int
) -> None:
    assert decide(130429, attempt, seed, throttled=throttled).slow_down_s <= 2.0


@given(
    code=st.sampled_from(sorted(NAMED_WAITS)),
    attempt=st.integers(min_value=1, max_value=7),
    seed=st.integers(),
)
def test_a_named_wait_is_never_cut_short_by_the_backoff(code: int, attempt: int, seed: int) -> None:
    assert decide(code, attempt, seed).delay_s >= NAMED_WAITS[code]


@given(
    code=st.sampled_from([*TRANSIENT, *NAMED_WAITS, 500]),
    attempt=st.integers(min_value=1, max_value=100),
)
def test_transient_failures_stop_at_the_last_attempt(code: int, attempt: int) -> None:
    status = 500 if code == 500 else 400
    verdict = decide(None if code == 500 else code, attempt, status=status)
    assert (verdict.action is Action.FAIL) is (attempt >= POLICY.max_attempts)


@pytest.mark.parametrize("code", [*DEFERRED_WAITS, *DEFERRED_AT_ONCE])
def test_a_deferred_error_says_it_is_retryable_only_when_it_is_tried_again(code: int) -> None:
    tried_again = decide(code, 1, 0).action is Action.RETRY
    assert error(code).retryable is tried_again is (code in DEFERRED_WAITS)


class LowestDraw(random.Random):
    """Draws the lowest value of every range: what a wait is before any jitter."""

    def uniform(self, a: float, b: float) -> float:
        return a


@pytest.mark.parametrize(("code", "wait"), [(131049, DAY), (132069, HOUR), (4, 60.0), (613, 60.0)])
def test_a_named_wait_before_its_jitter_is_exactly_metas(code: int, wait: float) -> None:
    assert POLICY.decide(error(code), 1, LowestDraw()).delay_s == wait


def test_the_throttles_in_a_row_default_to_none() -> None:
    # Called without `throttled`, a pair-limit answer is the first in a row: 4^0 = 1 s.
    assert POLICY.decide(error(131056), 1, random.Random(0)).delay_s == 1.0


def test_a_transient_code_without_a_named_wait_adds_no_floor_to_the_backoff() -> None:
    quick = RetryPolicy(base_s=0.1)
    assert quick.decide(error(1), 1, random.Random(0)).delay_s <= 0.1
