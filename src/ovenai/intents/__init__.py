"""Intents of inbound messages: wants a viewing, asks the price, not interested, wants a call,
opt-out, other; from text (Hebrew, English, both at once) and from button replies.

Automation, sequences and the engagement score call :func:`classify_content` (or a
classifier's ``classify``) and act on the :class:`Classification`: its intent, its
confidence and the evidence that says why, for the lead's log. The classifier behind it is
anything that satisfies :class:`IntentClassifier`; today that is the lexicon-and-rules
:class:`RuleClassifier`, and a model-based one can replace it by implementing the same
``classify`` and being passed where :func:`default_classifier` is used now.

Sub-modules: ``base`` (the types and the interface), ``normalise`` (the one spelling the
lexicon reads), ``lexicon`` (the rules), ``rules`` (the classifier), ``replies`` (buttons,
list rows and other inbound content) and ``evaluation`` (precision and recall on labelled
messages; ``ovenai intents evaluate``).
"""

from functools import cache

from ovenai.intents.base import Classification, Evidence, Intent, IntentClassifier
from ovenai.intents.evaluation import (
    Evaluation,
    IntentFigures,
    Outcome,
    Sample,
    evaluate,
    load_samples,
    parse_samples,
)
from ovenai.intents.normalise import normalise
from ovenai.intents.replies import ReplyButton, classify_content, classify_reply
from ovenai.intents.rules import RuleClassifier


@cache
def default_classifier() -> IntentClassifier:
    """The classifier the product uses (the lexicon; its rules compile once per process)."""
    return RuleClassifier()


__all__ = [
    "Classification",
    "Evaluation",
    "Evidence",
    "Intent",
    "IntentClassifier",
    "IntentFigures",
    "Outcome",
    "ReplyButton",
    "RuleClassifier",
    "Sample",
    "classify_content",
    "classify_reply",
    "default_classifier",
    "evaluate",
    "load_samples",
    "normalise",
    "parse_samples",
]
