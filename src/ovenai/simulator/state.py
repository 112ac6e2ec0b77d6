"""The simulator's in-memory world: outbox, windows, opt-outs, limits, templates, stats."""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import itertools
import random
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ovenai.simulator.config import SimulatorConfig
from ovenai.simulator.events import messages_envelope
from ovenai.simulator.faults import Faults
from ovenai.simulator.media import MediaLibrary
from ovenai.simulator.personas import Persona
from ovenai.simulator.templates import TemplateStore
from ovenai.simulator.webhooks import WebhookDispatcher

JsonDict = dict[str, Any]


class RateMeter:
    """Accepted sends in the last second (sliding) and the busiest second seen."""

    def __init__(self) -> None:
        self.accepted: deque[float] = deque()
        self.max_accepted_per_s = 0
        self._second = 0
        self._attempts = 0
        self.max_attempts_per_s = 0

    def full(self, now: float, cap: int | None) -> bool:
        """Whether one more send would exceed ``cap`` in the sliding second ending now."""
        window = self.accepted
        while window and window[0] <= now - 1.0:
            window.popleft()
        return cap is not None and len(window) >= cap

    def attempt(self, now: float) -> None:
        """Count a send attempt in its calendar second."""
        second = int(now)
        if second != self._second:
            self._second, self._attempts = second, 0
        self._attempts += 1
        if self._attempts > self.max_attempts_per_s:
            self.max_attempts_per_s = self._attempts

    def accept(self, now: float) -> None:
        """Record an accepted send."""
        self.accepted.append(now)
        if len(self.accepted) > self.max_accepted_per_s:
            self.max_accepted_per_s = len(self.accepted)


def _wamid_head(phone_number_id: str, prefix: str) -> tuple[str, str, bytes]:
    """The fixed start of every wamid: its whole 3-byte groups encoded once, and the rest."""
    # base64(a + b) == base64(a) + base64(b) whenever len(a) is a multiple of 3.
    head = f"{phone_number_id}:{prefix}".encode()
    cut = len(head) - len(head) % 3
    return phone_number_id, "wamid." + base64.b64encode(head[:cut]).decode(), head[cut:]


class SimulatorState:
    """Everything the simulator remembers; ``reset()`` returns to the configured start."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.initial = config
        self.settings = dataclasses.replace(config)
        self.dispatcher = WebhookDispatcher(
            self.settings, lambda: self.faults, self.statuses_envelope, self.count
        )
        self.generation = 0
        self._prefix = secrets.token_hex(4).upper()
        self._seq = itertools.count(1)
        self._wamid_head = _wamid_head(config.phone_number_id, self._prefix)
        self.reset()

    def reset(self) -> None:
        """Forget every message, fault, window and template change."""
        self.generation += 1
        self.settings = dataclasses.replace(self.initial)
        self.dispatcher.settings = self.settings
        self.dispatcher.reset()
        self.faults = Faults()
        self.media = MediaLibrary()
        self.templates = TemplateStore(
            self.settings.business_account_id, seeded=self.settings.seed_templates
        )
        # Accepted and rejected records keep "body" as the JSON bytes received (see
        # messaging.handle_send); control.outbox parses them back.
        self.outbox: deque[JsonDict] = deque(maxlen=self.settings.outbox_limit)
        self.rejected: deque[JsonDict] = deque(maxlen=self.settings.outbox_limit)
        self.reads: deque[JsonDict] = deque(maxlen=self.settings.outbox_limit)
        self.inbound: deque[JsonDict] = deque(maxlen=self.settings.outbox_limit)
        self.windows: dict[str, float] = {}
        self.stopped: set[str] = set()
        self.wa_of_user: dict[str, str] = {}
        self.personas: dict[str, Persona] = {}  # scripted users, by wa_id (personas.py)
        self.pairs: dict[str, deque[float]] = {}
        self.rate = RateMeter()
        self.counts: dict[str, int] = {}
        self.rng = random.Random(self.settings.seed)

    def now(self) -> float:
        """Wall-clock seconds (the configurable clock) for timestamps and windows."""
        return self.settings.clock()

    def new_wamid(self) -> str:
        """A unique ``wamid.`` id: base64 of ``{phone_number_id}:{prefix}{sequence:012d}``."""
        phone, encoded, rest = self._wamid_head
        if phone != self.settings.phone_number_id:
            phone, encoded, rest = self._wamid_head = _wamid_head(
                self.settings.phone_number_id, self._prefix
            )
        tail = rest + b"%012d" % next(self._seq)
        return encoded + binascii.b2a_base64(tail, newline=False).decode()

    def count(self, key: str) -> None:
        """Increase one of the stats counters."""
        self.counts[key] = self.counts.get(key, 0) + 1

    def statuses_envelope(self, statuses: list[JsonDict]) -> JsonDict:
        """A ``messages`` envelope carrying status updates."""
        return messages_envelope(self.settings, {"statuses": statuses})

    def later(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` after ``delay`` seconds unless the state was reset meanwhile."""
        generation = self.generation

        def fire() -> None:
            if generation == self.generation:
                action()

        asyncio.get_running_loop().call_later(delay, fire)

    def open_window(self, wa_id: str | None, user_id: str | None) -> None:
        """A user wrote in: their 24-hour customer-service window (re)opens now."""
        now = self.now()
        for key in (wa_id, user_id):
            if key:
                self.windows[key] = now
        if wa_id and user_id:
            self.wa_of_user[user_id] = wa_id

    def in_window(self, key: str) -> bool:
        """Whether the user's customer-service window is open."""
        opened = self.windows.get(key)
        return opened is not None and self.now() - opened < self.settings.window_hours * 3600

    def pair_limited(self, key: str) -> bool:
        """Whether one more message to this user would break the pair rate limit."""
        limit = self.settings.pair_limit
        if limit is None:
            return False
        now = time.monotonic()
        recent = self.pairs.setdefault(key, deque())
        while recent and recent[0] <= now - self.settings.pair_window_s:
            recent.popleft()
        return len(recent) >= limit

    def note_pair(self, key: str) -> None:
        """Record a message to this user for the pair limit."""
        if self.settings.pair_limit is not None:
            self.pairs.setdefault(key, deque()).append(time.monotonic())

    def stats(self) -> JsonDict:
        """Counters and the busiest second observed."""
        return {
            "counts": dict(self.counts),
            "outbox": len(self.outbox),
            "rejected": len(self.rejected),
            "max_accepted_per_second": self.rate.max_accepted_per_s,
            "max_attempts_per_second": self.rate.max_attempts_per_s,
            "mps_cap": self.settings.mps_cap,
            "webhooks": len(self.dispatcher.log),
        }
