"""How one worker sends: the limits it keeps, how much it claims, and its timings."""

from __future__ import annotations

from dataclasses import dataclass, field

from ovenai.outbox.retry import RetryPolicy, SlowDown
from ovenai.outbox.token_bucket import Bucket
from ovenai.quiet_hours import OFF, QuietHours
from ovenai.settings import Settings

MIN_BATCH, MAX_BATCH = 200, 1000  # messages one claim takes (DispatchConfig.claim_batch)


@dataclass(frozen=True)
class DispatchConfig:
    """How one worker sends: Meta's limits, batch sizes and timings.

    ``pacing`` keeps the shared rate a little under Meta's cap, ``burst_s`` bounds how many
    tokens may be saved up and ``slot_tolerance_s`` how late a send may start after its slot,
    so that no one-second window carries more than the cap even with the scheduling jitter
    of a busy machine: ``pacing * (1 + slot_tolerance_s + EARLY_S) + burst_s`` stays under 1
    (``EARLY_S``: a millisecond, see :mod:`ovenai.outbox.pacing`), with room left for the
    jitter on Meta's side. ``block_s``: how many seconds of slots a worker takes from the
    shared bucket at a time. ``batch_size``: messages claimed at a time (see
    :attr:`claim_batch`).
    """

    phone_number_id: str
    portfolio: str
    # Meta's default throughput of a business number; None: no pacing (benchmarks).
    messages_per_second: float | None = 80.0
    pacing: float = 0.97
    burst_s: float = 0.002
    # How far ahead a worker reserves slots: the next block is asked for while a horizon
    # minus a block is still left, and SQLite's answers waited up to 0.36 s behind the
    # worker's other transactions (bench/outbound, capped).
    horizon_s: float = 0.5
    # A few tens of milliseconds of slots per reservation (see ovenai.outbox.pacing); no
    # reason for exactly 50 ms is recorded.
    block_s: float = 0.05
    slot_tolerance_s: float = 0.015
    # Meta's pair limit: one message to one user every 6 s, short bursts borrowing from
    # later ("Pair rate limits"). The burst of 5 is the settings' default (up to 45 allowed).
    pair_interval_s: float = 6.0
    pair_burst: int = 5
    # A message whose pair slot is further ahead than this goes back to the queue instead of
    # waiting in the worker's memory; no reason for exactly 1 s is recorded.
    pair_horizon_s: float = 1.0
    messaging_limit: int | None = 2000  # the tier (unique users a day); None: unlimited
    concurrency: int = 64  # sends in flight at once
    batch_size: int | None = None  # None: half a second of the number's throughput
    # How long a claim lasts; a dead worker's messages wait this long before another worker
    # takes them. A live worker sends only within its first half (well over the client's
    # 10 s request timeout). No reason for exactly 60 s is recorded.
    claim_ttl_s: float = 60.0
    # How long an idle worker waits before looking for due messages again: a message queued
    # meanwhile waits up to this long. No reason for exactly 0.2 s is recorded.
    poll_s: float = 0.2
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    # When marketing waits (ovenai.quiet_hours); the settings' in a worker, none by default.
    quiet: QuietHours = OFF

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatchConfig:
        """The configuration the settings describe."""
        return cls(
            phone_number_id=settings.whatsapp_phone_number_id or "",
            portfolio=settings.whatsapp_business_account_id
            or settings.whatsapp_phone_number_id
            or "",
            messages_per_second=settings.messages_per_second,
            pair_interval_s=settings.pair_interval_s,
            pair_burst=settings.pair_burst,
            messaging_limit=settings.messaging_limit,
            concurrency=settings.worker_concurrency,
            claim_ttl_s=settings.worker_claim_ttl_s,
            quiet=QuietHours.from_settings(settings),
        )

    @property
    def claim_batch(self) -> int:
        """How many messages one claim takes: ``batch_size``, else half a second of sending.

        A claim costs the database and the worker about the same whatever its size, so small
        batches make claiming the bottleneck (bench/outbound, unpaced: 200 a claim ~1,850
        messages/s, 1,000 ~2,550). A large one holds SQLite's write lock longer, which the
        rate-limit reservations wait behind (capped at 1,000/s: 1,000 a claim left the
        worker without sending slots for up to 0.3 s; 500 did not), and lengthens what a
        dead worker's expiring claims hold up. Between ``MIN_BATCH`` and ``MAX_BATCH``;
        unpaced, ``MAX_BATCH``.
        """
        if self.batch_size is not None:
            return self.batch_size
        if self.messages_per_second is None:
            return MAX_BATCH
        return max(MIN_BATCH, min(MAX_BATCH, round(self.messages_per_second / 2)))

    @property
    def number_bucket(self) -> Bucket:
        """The business number's messages-per-second bucket."""
        mps = self.messages_per_second or 0.0
        rate = mps * self.pacing
        capacity = max(1.0, mps * self.burst_s)
        return Bucket(f"mps:{self.phone_number_id}", rate, capacity)

    def pair_bucket(self, lead_id: str) -> Bucket:
        """The pair limit to one lead: one message per interval, a small burst."""
        return Bucket(f"pair:{lead_id}", 1.0 / self.pair_interval_s, float(self.pair_burst))

    def slowed_bucket(self, slow_down: SlowDown, lead_id: str) -> Bucket | None:
        """The shared bucket a throttling verdict slows down, if any."""
        if slow_down is SlowDown.PAIR:
            return self.pair_bucket(lead_id)
        if slow_down is SlowDown.NUMBER and self.messages_per_second is not None:
            return self.number_bucket
        return None  # nothing to slow down, or unpaced: no shared bucket for the number
