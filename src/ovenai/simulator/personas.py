"""Scripted leads: users the simulator plays, who answer our messages by themselves.

A persona is a WhatsApp user (a phone number) with a name and lines to say. Each time the
business sends it a message and Meta accepts it, the persona answers with its next line a
few seconds later, as a real person would: a signed webhook like any inbound message, so
the whole loop (ticks, the reply, automation, the agent's inbox) can be tried alone. When
its lines run out it falls silent. Set through ``POST /_sim/personas``; a reset forgets them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ovenai.simulator.meta_errors import MetaError

JsonDict = dict[str, Any]
MAX_LINES = 20
DEFAULT_DELAY_S = 4.0


@dataclass
class Persona:
    """One scripted user: who, what it will say, and how long it takes to answer."""

    wa_id: str
    name: str
    lines: list[str]
    delay_s: float = DEFAULT_DELAY_S
    said: int = 0
    tasks: set[asyncio.Task[Any]] = field(default_factory=set, repr=False)

    def next_line(self) -> str | None:
        """The next thing to say, or None when the script is over."""
        if self.said >= len(self.lines):
            return None
        line = self.lines[self.said]
        self.said += 1
        return line

    def summary(self) -> JsonDict:
        """What ``GET /_sim/personas`` shows of it."""
        return {
            "wa_id": self.wa_id,
            "name": self.name,
            "lines": self.lines,
            "said": self.said,
            "delay_s": self.delay_s,
        }


def parse(spec: JsonDict) -> list[Persona]:
    """The personas of a control request (``{"personas": [{"wa_id", "name", "lines"}]}``)."""
    items = spec.get("personas")
    if not isinstance(items, list):
        raise MetaError(100, "'personas' must be a list of {wa_id, name, lines}.")
    found = []
    for item in items:
        if not isinstance(item, dict):
            raise MetaError(100, "Each persona must be an object.")
        wa_id = "".join(ch for ch in str(item.get("wa_id", "")) if ch.isdigit())
        lines = item.get("lines")
        if not wa_id or not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise MetaError(100, "A persona needs 'wa_id' (digits) and 'lines' (strings).")
        if len(lines) > MAX_LINES:
            raise MetaError(100, f"A persona may have at most {MAX_LINES} lines.")
        delay = float(item.get("delay_s", DEFAULT_DELAY_S))
        if not 0 <= delay <= 600:
            raise MetaError(100, "'delay_s' must be between 0 and 600 seconds.")
        found.append(Persona(wa_id, str(item.get("name", "")), list(lines), delay))
    return found
