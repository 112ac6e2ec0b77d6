"""Measuring a classifier on labelled messages: per-intent precision and recall, opt-out errors.

A labelled set is JSON Lines, one ``{"text", "intent", "language"}`` per line. The bundled
set (``ovenai/data/intent_samples.jsonl``) is the one the lexicon was tuned on; a held-out
set (``tests/fixtures/intents/heldout.jsonl``) says how it does on messages it has not seen.
Opt-out gets its own accounting (:attr:`Evaluation.false_opt_outs`): a wrong opt-out loses a
lead, so each one is listed, not only counted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ovenai.errors import InvalidInput
from ovenai.intents.base import Classification, Intent, IntentClassifier

BUNDLED = "data/intent_samples.jsonl"


@dataclass(frozen=True, slots=True)
class Sample:
    """One labelled message."""

    text: str
    intent: Intent
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """A sample and what the classifier made of it."""

    sample: Sample
    classification: Classification

    @property
    def right(self) -> bool:
        """Whether the classifier named the labelled intent."""
        return self.classification.intent is self.sample.intent


@dataclass(frozen=True, slots=True)
class IntentFigures:
    """How one intent fared: ``support`` samples carry it, ``predicted`` were given it."""

    intent: Intent
    support: int
    predicted: int
    correct: int

    @property
    def precision(self) -> float | None:
        """Of the messages given this intent, the share that carried it (None: none given)."""
        return self.correct / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        """Of the messages carrying this intent, the share given it (None: none carry it)."""
        return self.correct / self.support if self.support else None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every outcome of one run and the figures drawn from them."""

    outcomes: tuple[Outcome, ...]

    @property
    def total(self) -> int:
        """How many samples were classified."""
        return len(self.outcomes)

    @property
    def correct(self) -> int:
        """How many were given their labelled intent."""
        return sum(1 for outcome in self.outcomes if outcome.right)

    @property
    def accuracy(self) -> float:
        """The share of samples given their labelled intent."""
        return self.correct / self.total if self.total else 0.0

    def figures(self, intent: Intent) -> IntentFigures:
        """Support, predictions and hits of one intent."""
        labelled = [o for o in self.outcomes if o.sample.intent is intent]
        given = [o for o in self.outcomes if o.classification.intent is intent]
        return IntentFigures(intent, len(labelled), len(given), sum(o.right for o in labelled))

    @property
    def per_intent(self) -> tuple[IntentFigures, ...]:
        """The figures of every intent, in :class:`Intent` order."""
        return tuple(self.figures(intent) for intent in Intent)

    def confusion(self) -> Counter[tuple[Intent, Intent]]:
        """How often each (labelled, given) pair occurred."""
        return Counter((o.sample.intent, o.classification.intent) for o in self.outcomes)

    @property
    def false_opt_outs(self) -> tuple[Outcome, ...]:
        """Messages given opt-out that were something else: each one a lead lost."""
        return tuple(
            o
            for o in self.outcomes
            if o.classification.intent is Intent.OPT_OUT and o.sample.intent is not Intent.OPT_OUT
        )

    @property
    def missed_opt_outs(self) -> tuple[Outcome, ...]:
        """Opt-outs given another intent: a lead who asked to stop and would still be written to."""
        return tuple(
            o
            for o in self.outcomes
            if o.sample.intent is Intent.OPT_OUT and o.classification.intent is not Intent.OPT_OUT
        )

    @property
    def mistakes(self) -> tuple[Outcome, ...]:
        """Every sample given an intent other than its label."""
        return tuple(o for o in self.outcomes if not o.right)

    def accuracy_by_language(self) -> dict[str, tuple[int, int]]:
        """Correct and total samples per labelled language (``-`` for none)."""
        totals: Counter[str] = Counter()
        rights: Counter[str] = Counter()
        for outcome in self.outcomes:
            language = outcome.sample.language or "-"
            totals[language] += 1
            rights[language] += outcome.right
        return {language: (rights[language], totals[language]) for language in sorted(totals)}


def _sample(line: str, where: str) -> Sample:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise InvalidInput(f"{where}: expected an object with text, intent and language")
    text, intent, language = row.get("text"), row.get("intent"), row.get("language")
    if not isinstance(text, str) or not text:
        raise InvalidInput(f"{where}: text must be a non-empty string")
    if intent not in set(Intent):
        known = ", ".join(Intent)
        raise InvalidInput(f"{where}: intent {intent!r} is not one of {known}")
    if language is not None and not isinstance(language, str):
        raise InvalidInput(f"{where}: language must be a string")
    return Sample(text, Intent(intent), language)


def parse_samples(content: str, *, origin: str) -> list[Sample]:
    """Read JSON Lines of labelled messages; ``origin`` names the source in errors."""
    samples = [
        _sample(line, f"{origin} line {number}")
        for number, line in enumerate(content.splitlines(), start=1)
        if line.strip()
    ]
    if not samples:
        raise InvalidInput(f"{origin} holds no samples")
    return samples


def load_samples(path: Path | None = None) -> list[Sample]:
    """The labelled messages of ``path``, or the bundled set when no path is given."""
    if path is None:
        content = resources.files("ovenai").joinpath(BUNDLED).read_text("utf-8")
        return parse_samples(content, origin="the bundled samples")
    try:
        content = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None
    return parse_samples(content, origin=str(path))


def evaluate(samples: Iterable[Sample], classifier: IntentClassifier) -> Evaluation:
    """Classify every sample (with its language as the hint) and keep what came out."""
    return Evaluation(
        tuple(
            Outcome(sample, classifier.classify(sample.text, language=sample.language))
            for sample in samples
        )
    )
