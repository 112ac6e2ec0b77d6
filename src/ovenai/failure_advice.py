"""Why a message failed, in plain words, and what the agent can do about it.

Meta reports a failed message with a numeric code and a terse English title ("Message
undeliverable"). An agent needs the reason in words and the next step: send a template when
the window closed, check the number when it cannot get WhatsApp, wait when it was throttled
(the outbox retries by itself). :func:`advise` maps a code to one of a few :class:`Advice`
kinds; a code outside the table is told as the code and Meta's title, never guessed at.

The sentences here are English (the REST API's language); the dashboard says each kind in
the page's language from its own catalog, by :attr:`Advice.kind`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AdviceKind(StrEnum):
    """What kind of failure a code is, as far as the agent's next step goes."""

    WINDOW_CLOSED = "window_closed"
    UNDELIVERABLE = "undeliverable"
    STOPPED_MARKETING = "stopped_marketing"
    ECOSYSTEM_LIMIT = "ecosystem_limit"
    RATE_LIMITED = "rate_limited"
    TEMPLATE_PROBLEM = "template_problem"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Advice:
    """A failure explained: its kind, Meta's code and title, the reason and the next step.

    ``reason`` and ``action`` are None for an :attr:`AdviceKind.UNKNOWN` code: the code and
    Meta's title are all that is known then.
    """

    kind: AdviceKind
    code: int | None
    title: str | None
    reason: str | None
    action: str | None


# kind → (reason, what to do), in English.
SENTENCES: dict[AdviceKind, tuple[str, str]] = {
    AdviceKind.WINDOW_CLOSED: (
        "More than 24 hours have passed since the lead last wrote, so WhatsApp refuses free text.",
        "Send an approved template instead; free text is possible again once the lead replies.",
    ),
    AdviceKind.UNDELIVERABLE: (
        "WhatsApp could not deliver the message to this number.",
        "Check the phone number; the lead may not have WhatsApp, or may have an old app version.",
    ),
    AdviceKind.STOPPED_MARKETING: (
        "The lead stopped marketing messages from the agency in WhatsApp.",
        "Send only utility templates, or talk to the lead in another way.",
    ),
    AdviceKind.ECOSYSTEM_LIMIT: (
        "WhatsApp held the message back to keep the lead from getting too many marketing messages.",
        "Try again later, in a day or more, or wait for the lead to write.",
    ),
    AdviceKind.RATE_LIMITED: (
        "Too many messages were sent too quickly.",
        "Nothing to do: the message is sent again by itself shortly.",
    ),
    AdviceKind.TEMPLATE_PROBLEM: (
        "WhatsApp refused the template: it is missing, paused, not approved, or its"
        " parameters do not fit.",
        "Check the template and its parameters, then send again.",
    ),
}

# Codes with a kind of their own; every 132xxx code is a template problem.
CODES: dict[int, AdviceKind] = {
    131047: AdviceKind.WINDOW_CLOSED,
    470: AdviceKind.WINDOW_CLOSED,  # the older code of the same refusal
    131026: AdviceKind.UNDELIVERABLE,
    131050: AdviceKind.STOPPED_MARKETING,
    131049: AdviceKind.ECOSYSTEM_LIMIT,
    130429: AdviceKind.RATE_LIMITED,
    131056: AdviceKind.RATE_LIMITED,
}
_TEMPLATE_CODES = range(132000, 133000)


def kind_of(code: int | None) -> AdviceKind:
    """The kind of failure a Meta error code is (UNKNOWN when the table lacks it)."""
    if code is None:
        return AdviceKind.UNKNOWN
    if code in _TEMPLATE_CODES:
        return AdviceKind.TEMPLATE_PROBLEM
    return CODES.get(code, AdviceKind.UNKNOWN)


def advise(code: int | None, title: str | None = None) -> Advice:
    """The advice for a failure with Meta's ``code`` and ``title``."""
    kind = kind_of(code)
    reason, action = SENTENCES.get(kind, (None, None))
    return Advice(kind=kind, code=code, title=title, reason=reason, action=action)
