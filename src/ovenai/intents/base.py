"""What every intent classifier answers: the intent, how sure it is, and why.

The interface is :class:`IntentClassifier`; the lexicon-and-rules classifier
(:mod:`ovenai.intents.rules`) is one implementation, and a model-based one would be another.
Callers (rules, sequences, the engagement score) depend only on this module's types.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Intent(StrEnum):
    """What an inbound message asks for, as far as automation needs to know."""

    WANTS_VIEWING = "wants_viewing"
    ASKS_PRICE = "asks_price"  # the price or any other detail of the property
    NOT_INTERESTED = "not_interested"
    WANTS_CALL = "wants_call"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"  # "התחל", "START" alone: back to receiving messages (ovenai.consent)
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One thing a classifier found in the message, used or overruled.

    ``matched`` quotes the message (normalised), so evidence is personal data: whoever
    stores it on a lead stores it sealed, like the message itself.
    """

    intent: Intent
    rule: str
    matched: str
    weight: float
    overruled_by: str | None = None  # a negation ("אל", "not") or a stronger intent

    def describe(self) -> str:
        """One line: the rule, what it matched, and why it did not count when it did not."""
        line = f'{self.intent}: "{self.matched}" ({self.rule})'
        return f"{line}, ignored: {self.overruled_by}" if self.overruled_by else line


@dataclass(frozen=True, slots=True)
class Classification:
    """A classifier's answer for one message.

    ``confidence`` is the classifier's own score in [0, 1], not a calibrated probability;
    ``evidence`` lists what counted first, then what was found and ignored, so the lead's
    log can say why (:attr:`reason`).
    """

    intent: Intent
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    note: str = ""  # said when the evidence alone does not explain the answer
    classifier: str = "lexicon"

    @property
    def reason(self) -> str:
        """Why this intent, in one line for a log or the command line."""
        parts = [self.note] if self.note else []
        parts += [item.describe() for item in self.evidence]
        return "; ".join(parts) or "nothing matched"


class IntentClassifier(Protocol):
    """Anything that reads an inbound text and names its intent.

    ``language`` is the lead's language when known (``he``, ``en``); a classifier may use
    it or read the text alone. Implementations must not raise on any text, however odd.
    """

    def classify(self, text: str, *, language: str | None = None) -> Classification:
        """Classify one inbound message's text."""
        ...
