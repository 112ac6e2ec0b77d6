"""Injected failures: what the next sends (or the sends to one recipient) should suffer.

``POST /_sim/faults`` accepts (every key optional)::

    {"errors": [{"code": 131000, "count": 2, "recipient": "9725...", "status": 500}],
     "http_status": {"status": 503, "count": 1},
     "html": {"status": 502, "count": 1},
     "non_json": {"status": 200, "count": 1},
     "latency": {"ms": 1500, "count": 1},
     "unreachable": {"numbers": ["9725..."], "mode": "sync" | "async"},
     "opt_out_mode": "sync" | "async",
     "duplicate_webhooks": true, "reorder_webhooks": true,
     "reject_templates": ["name_a"],
     "mps_cap": 100, "statuses": "on" | "off", "status_sample_rate": 0.1,
     "endpoint": "messages" | "media" | "templates" | "any",
     "clear": true}

``count`` defaults to 1; ``"count": null`` keeps a fault until cleared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RESPONSE_KINDS = ("error", "http_status", "html", "non_json")
DEFAULT_STATUS: dict[str, int | None] = {"error": None, "http_status": 500, "html": 502}


@dataclass
class SendFault:
    """One injected answer (or delay) for matching requests."""

    kind: str
    code: int = 0
    status: int | None = 500
    latency_s: float = 0.0
    remaining: int | None = 1
    recipient: str | None = None
    endpoint: str = "messages"

    def matches(self, endpoint: str, recipient: str | None) -> bool:
        """Whether this fault applies to a request on ``endpoint`` for ``recipient``."""
        if self.endpoint not in ("any", endpoint):
            return False
        return self.recipient is None or self.recipient == recipient


@dataclass
class Faults:
    """The fault settings in force."""

    answers: list[SendFault] = field(default_factory=list)
    delays: list[SendFault] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)
    unreachable_async: bool = False
    opt_out_async: bool = False
    duplicate_webhooks: bool = False
    reorder_webhooks: bool = False
    reject_templates: set[str] = field(default_factory=set)

    def take_answer(self, endpoint: str, recipient: str | None) -> SendFault | None:
        """Consume the first injected answer matching this request, if any."""
        return _take(self.answers, endpoint, recipient)

    def take_delay(self, endpoint: str, recipient: str | None) -> float:
        """Consume the first injected latency matching this request (seconds, 0 if none)."""
        fault = _take(self.delays, endpoint, recipient)
        return fault.latency_s if fault else 0.0

    def apply(self, spec: dict[str, Any]) -> None:
        """Merge a ``POST /_sim/faults`` body into the settings (see the module doc)."""
        if spec.get("clear"):
            self.__init__()  # type: ignore[misc]
        endpoint = str(spec.get("endpoint", "messages"))
        self.answers.extend(_answers(spec, endpoint))
        if "latency" in spec:
            self.delays.append(_fault("latency", spec["latency"], endpoint))
        self._apply_flags(spec)

    def _apply_flags(self, spec: dict[str, Any]) -> None:
        if "unreachable" in spec:
            unreachable = spec["unreachable"]
            self.unreachable |= {_digits(n) for n in unreachable.get("numbers", [])}
            self.unreachable_async = unreachable.get("mode", "sync") == "async"
        if "opt_out_mode" in spec:
            self.opt_out_async = spec["opt_out_mode"] == "async"
        self.duplicate_webhooks = bool(spec.get("duplicate_webhooks", self.duplicate_webhooks))
        self.reorder_webhooks = bool(spec.get("reorder_webhooks", self.reorder_webhooks))
        self.reject_templates |= set(spec.get("reject_templates", []))


def _take(faults: list[SendFault], endpoint: str, recipient: str | None) -> SendFault | None:
    for fault in faults:
        if fault.matches(endpoint, recipient):
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    faults.remove(fault)
            return fault
    return None


def _fault(kind: str, spec: dict[str, Any], endpoint: str) -> SendFault:
    recipient = spec.get("recipient")
    return SendFault(
        kind=kind,
        code=int(spec.get("code", 0)),
        status=int(spec["status"]) if "status" in spec else DEFAULT_STATUS.get(kind, 500),
        latency_s=float(spec.get("ms", 0)) / 1000.0,
        remaining=spec.get("count", 1),
        recipient=_digits(recipient) if recipient else None,
        endpoint=str(spec.get("endpoint", endpoint)),
    )


def _answers(spec: dict[str, Any], endpoint: str) -> list[SendFault]:
    found = [_fault("error", item, endpoint) for item in spec.get("errors", [])]
    for kind in RESPONSE_KINDS[1:]:
        if kind in spec:
            found.append(_fault(kind, spec[kind], endpoint))
    return found


def _digits(number: str) -> str:
    """A phone number as Meta's wa_id: digits only (BSUIDs are kept as given)."""
    if "." in number:
        return number
    return "".join(ch for ch in number if ch.isdigit())
