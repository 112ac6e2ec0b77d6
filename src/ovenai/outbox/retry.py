"""What to do after a failed send: retry (when), fail at once, or pause all sending.

Only where retrying can help, by Meta's reading of each code (Cloud API › Support › Error codes):

* ``AUTH`` (190, 0, 10, 200-299, 131005): pause every send and alert; the message waits.
* ``THROTTLED`` (130429, 131056, 4, 613, 80007): a limit, not a fault. The shared bucket is
  slowed down and the message waits; it never fails for being throttled, since its attempt
  is given back. Its waits grow with the throttling answers it had in a row
  (``Message.throttled_attempts``, counted apart from ``attempts``): 131056 waits 4^X s for
  that user only (Meta's advice), 130429 backs off like a fault from ``throttle_base_s``;
  4/613/80007 are per-app Graph limits that clear after minutes.
* ``TRANSIENT`` (1, 2, 131000, 131016, 131057, 5xx, timeouts): exponential backoff with
  jitter and a cap, then failed after :attr:`RetryPolicy.max_attempts`. Some codes carry a
  minimum wait (131057 maintenance about a minute, 133015 five minutes).
* ``DEFERRED`` (368, 131048, 131049, 132015 ...): quality and policy signals; retrying
  aggressively worsens the account's standing. Only codes with a documented wait are tried
  once more after it (131049 not before 24 h); the others fail at once for a human.
* ``PERMANENT``: fail at once with Meta's code, title and details. One exception: 131062
  (Meta does not take a BSUID recipient for this message) is sent once more, at its next
  sending slot, to the lead's number when it has one (the dispatcher;
  ``claims.Job.fall_back_to_number``).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from ovenai.cloudapi.errors import CloudApiFailure, ErrorKind

# Least seconds before trying again, for codes where Meta names a wait (its Error codes page).
MIN_WAIT_S: dict[int, float] = {
    4: 60.0,
    613: 60.0,
    80007: 60.0,
    131057: 60.0,
    133015: 300.0,
    2494100: 120.0,
}
# Deferred codes worth one more try after a documented wait; other deferred codes fail.
DEFERRED_WAIT_S: dict[int, float] = {
    131049: 24 * 3600.0,
    132069: 3600.0,
    134101: 600.0,
}
PAIR_LIMIT_CODE = 131056
# Meta refuses a business-scoped user id as the recipient of this message (Error codes).
BSUID_REFUSED_CODE = 131062
THROUGHPUT_CODE = 130429
# 131056: Meta's advice is to wait 4^X seconds for that user, X the failed tries before this
# one (X from 0): here the throttling answers the message had in a row before this one, so
# 1 s, 4 s, 16 s ... The exponent stops at 6 only to keep the number small (cap_s cuts the
# wait long before).
PAIR_BACKOFF_BASE = 4.0
PAIR_BACKOFF_MAX_EXPONENT = 6
# Up to this much is added at random to a named wait, so that the messages held by one
# answer do not all come back in the same second. No reason for exactly 5 s is recorded.
NAMED_WAIT_JITTER_S = 5.0
# A deferred code's documented wait gets up to this share of itself added at random, for
# the same reason; no reason for exactly 5 % is recorded.
DEFERRED_JITTER_SHARE = 0.05
# A generic throughput refusal holds the number's shared bucket at most this long, however
# long the message itself waits: every worker's sends stop meanwhile. No reason for exactly
# 2 s is recorded.
MAX_THROUGHPUT_PENALTY_S = 2.0
# The backoff doubles at most this often, so that it saturates at the cap for any attempt:
# 2.0 ** 1023 is the largest power of two a float holds (2 ** 1024 raised OverflowError),
# and any base and cap in seconds that make sense reach the cap long before.
MAX_DOUBLINGS = 1023


class Action(enum.StrEnum):
    """The dispatcher's next step for a failed send."""

    RETRY = "retry"
    FAIL = "fail"
    PAUSE = "pause"


class SlowDown(enum.StrEnum):
    """Which shared bucket a throttling answer slows down."""

    NONE = "none"
    NUMBER = "number"
    PAIR = "pair"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision: what to do, after how long, and which limiter to slow down by how much."""

    action: Action
    delay_s: float = 0.0
    slow_down: SlowDown = SlowDown.NONE
    slow_down_s: float = 0.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff parameters: ``base_s * 2**(attempt-1)`` with jitter, at most ``cap_s``."""

    base_s: float = 2.0
    cap_s: float = 300.0
    max_attempts: int = 8
    throttle_base_s: float = 0.2

    def backoff(self, attempt: int, rng: random.Random, base_s: float | None = None) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, capped.

        It saturates at the cap for any ``attempt``, however large.
        """
        doublings = min(max(0, attempt - 1), MAX_DOUBLINGS)
        ceiling = min(self.cap_s, (base_s or self.base_s) * 2.0**doublings)
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))

    def decide(
        self, error: CloudApiFailure, attempt: int, rng: random.Random, *, throttled: int = 0
    ) -> Verdict:
        """The verdict for ``error`` on the ``attempt``-th try (1-based).

        ``throttled``: the throttling answers the message had in a row before this one. A
        throttled try is refunded (it must not use up ``max_attempts``), so ``attempt`` stays
        put while they last and only this count can make their waits grow.
        """
        if error.kind is ErrorKind.AUTH:
            return Verdict(Action.PAUSE)
        if error.kind is ErrorKind.THROTTLED:
            return self._throttled(error.code, max(0, throttled), rng)
        if error.kind is ErrorKind.TRANSIENT:
            return self._transient(error.code, attempt, rng)
        if error.kind is ErrorKind.DEFERRED:
            wait = DEFERRED_WAIT_S.get(error.code or 0)
            if wait is not None and attempt <= 1:
                jitter = rng.uniform(0, wait * DEFERRED_JITTER_SHARE)
                return Verdict(Action.RETRY, wait + jitter)
        return Verdict(Action.FAIL)

    def _throttled(self, code: int | None, before: int, rng: random.Random) -> Verdict:
        """The verdict for a throttling answer after ``before`` others in a row."""
        if code == PAIR_LIMIT_CODE:
            exponent = min(before, PAIR_BACKOFF_MAX_EXPONENT)
            wait = min(self.cap_s, PAIR_BACKOFF_BASE**exponent)
            return Verdict(Action.RETRY, wait, SlowDown.PAIR, wait)
        if code in MIN_WAIT_S:
            wait = MIN_WAIT_S[code or 0]
            jitter = rng.uniform(0, NAMED_WAIT_JITTER_S)
            return Verdict(Action.RETRY, wait + jitter, SlowDown.NUMBER, wait)
        pause = self.backoff(before + 1, rng, self.throttle_base_s)
        penalty = min(pause, MAX_THROUGHPUT_PENALTY_S)
        return Verdict(Action.RETRY, pause, SlowDown.NUMBER, penalty)

    def _transient(self, code: int | None, attempt: int, rng: random.Random) -> Verdict:
        if attempt >= self.max_attempts:
            return Verdict(Action.FAIL)
        wait = max(self.backoff(attempt, rng), MIN_WAIT_S.get(code or 0, 0.0))
        return Verdict(Action.RETRY, wait)
