"""The lexicon-and-rules classifier: :data:`~ovenai.intents.lexicon.RULES` over normalised text.

How a message is read:

1. :func:`~ovenai.intents.normalise.normalise` gives the one spelling the rules are written
   against (both languages are always read: leads mix them in one message).
2. Every rule's matches are collected. A match preceded in its clause (up to four words back,
   a clause ending at punctuation or at "but", "so", "please", "אבל", "אז", "בבקשה" ...)
   by one of its rule's negators is kept as evidence but does not count: "אל תסירו אותי",
   "please don't call", "did you remove me". Politeness that looks like a condition ("אם
   אפשר", "if possible") is not a condition.
3. A sentence made of nothing but opt-out words ("STOP", "הסר", "unsubscribe please") is an
   opt-out by itself, unless the message laughs ("stop 😂"); anywhere else, "stop" is just a
   word ("stop by tomorrow"). Likewise a whole message of opt-in words ("START",
   "התחל") asks to receive messages again (``opt_in``); nothing else reads as opt-in.
   Rules that only hint at a detail (a bare "price", "rooms", "photo") count only in a
   message that asks something (a question mark or word, a request).
4. Each intent scores its strongest match, a little more for every other rule that agreed.
   Opt-out wins when it scored at least :data:`OPT_OUT_THRESHOLD` and the same message does
   not also ask for a viewing, a call or details about as strongly (a lead asking for
   something is not leaving; when unsure, not opt-out). Otherwise the best score wins, ties
   going to the intent that asks the most of an agent (viewing, call, price, not
   interested). Nothing counted at :data:`THRESHOLD` or more: ``other``.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

from ovenai.intents.base import Classification, Evidence, Intent
from ovenai.intents.lexicon import (
    LAUGHTER,
    NO_ALONE,
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    POLITE,
    POLITE_CONDITIONS,
    QUESTION,
    RULES,
    WEIGHT_CLEAR,
    WEIGHT_LIKELY,
    WEIGHT_STRONG,
    WEIGHT_WEAK,
    Rule,
)
from ovenai.intents.normalise import normalise

THRESHOLD = WEIGHT_WEAK
"""The least score that names an intent; below it a message is ``other``."""

OPT_OUT_THRESHOLD = 0.8
"""Opt-out needs a clear form: the weak ones (an emoji, one odd word) never opt a lead out."""

WEIGHT_BARE_NO = 0.65
"""A message that is only "no" (or "לא"): not interested, but a weak reading of it."""

AGREEMENT_BONUS = 0.03
"""Added for each further rule of the same intent that matched; capped below 1."""

NEGATION_WINDOW = 4
"""How many words before a match a negator may stand ("please do not ever remove me")."""

RECENT = 8
"""How many answers a classifier remembers (the hooks of one message ask in turn)."""

PRIORITY = (
    Intent.WANTS_VIEWING,
    Intent.WANTS_CALL,
    Intent.ASKS_PRICE,
    Intent.NOT_INTERESTED,
)
"""Tie order: the intent that asks the most of an agent first."""

POSITIVE = frozenset({Intent.WANTS_VIEWING, Intent.WANTS_CALL, Intent.ASKS_PRICE})

_CLAUSE_BREAK = re.compile(
    r"[,.!?;:\n]|(?<!\w)(?:but|however|so|and|then|please|thanks|אבל|אך|אז|לכן|ולכן|בבקשה|"
    r"תודה)(?!\w)"
)
_SENTENCES = re.compile(r"[.!?\n]+")
_WORDS = re.compile(r"[^\W_]+")


def _negation(text: str, start: int, negators: frozenset[str]) -> str | None:
    """The negator standing before ``start`` in its clause, if any."""
    if not negators:
        return None
    before = text[:start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    clause = before[breaks[-1].end() :] if breaks else before
    words: list[str] = _WORDS.findall(POLITE_CONDITIONS.sub(" ", clause))[-NEGATION_WINDOW:]
    for word in reversed(words):
        if word in negators:
            return word
        if word[0] in "וש" and word[1:] in negators:  # "ותפסיקו", "שלא"
            return word
    return None


def _only_words(sentence: str) -> str:
    """The sentence's words without politeness, emoji or punctuation."""
    return " ".join(word for word in _WORDS.findall(sentence) if word not in POLITE)


class RuleClassifier:
    """Intents from a lexicon and rules, Hebrew and English (see the module docstring)."""

    name = "lexicon"

    def __init__(self, rules: Sequence[Rule] = RULES) -> None:
        self._rules = tuple(rules)
        self._recent: OrderedDict[str, Classification] = OrderedDict()
        self._lock = threading.Lock()

    def classify(self, text: str, *, language: str | None = None) -> Classification:
        """Classify ``text``; ``language`` is not needed, both lexicons always apply.

        The last few answers are remembered: the consent keywords, the engagement score and
        the automation rules each ask about the same inbound message, one after the other,
        and the text is read once. The memory is tiny (:data:`RECENT`), so a lead's words
        stay in it only until a few more messages pass.
        """
        with self._lock:
            known = self._recent.get(text)
            if known is not None:
                self._recent.move_to_end(text)
                return known
        normal = normalise(text)
        if not normal:
            answer = Classification(Intent.OTHER, 0.5, note="an empty message")
        else:
            answer = _decide(self._bare(normal) + self._matches(normal))
        with self._lock:
            self._recent[text] = answer
            if len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        return answer

    def _bare(self, normal: str) -> list[Evidence]:
        """Opt-out words alone in the message (or in one of its sentences); a lone "no"."""
        whole = _only_words(normal)
        found = []
        if whole and NO_ALONE.fullmatch(whole):
            found.append(Evidence(Intent.NOT_INTERESTED, 'a bare "no"', whole, WEIGHT_BARE_NO))
        if LAUGHTER.search(normal):  # "stop 😂" is "you're killing me", not an opt-out
            return found
        if whole and OPT_OUT_WORDS.fullmatch(whole):
            return [Evidence(Intent.OPT_OUT, "opt-out words alone", whole, WEIGHT_STRONG)]
        if whole and OPT_IN_WORDS.fullmatch(whole):
            return [Evidence(Intent.OPT_IN, "opt-in words alone", whole, WEIGHT_STRONG)]
        sentences = [s for s in (_only_words(s) for s in _SENTENCES.split(normal)) if s]
        if len(sentences) > 1:
            found += [
                Evidence(Intent.OPT_OUT, "a sentence of opt-out words", s, WEIGHT_CLEAR)
                for s in sentences
                if OPT_OUT_WORDS.fullmatch(s)
            ]
        return found

    def _matches(self, normal: str) -> list[Evidence]:
        found: list[Evidence] = []
        asks = QUESTION.search(normal) is not None
        for rule in self._rules:
            for match in rule.pattern.finditer(normal):
                negator = _negation(normal, match.start(), rule.negators)
                why = f'negated by "{negator}"' if negator else None
                if rule.asks and not asks and why is None:
                    why = "the message asks nothing"
                found.append(
                    Evidence(rule.intent, rule.name, match.group().strip(), rule.weight, why)
                )
        return found


def _scores(found: Sequence[Evidence]) -> dict[Intent, float]:
    scores: dict[Intent, float] = {}
    for intent in {item.intent for item in found if item.overruled_by is None}:
        counted = [item for item in found if item.intent is intent and item.overruled_by is None]
        rules = {item.rule for item in counted}
        best = max(item.weight for item in counted)
        scores[intent] = min(0.99, best + AGREEMENT_BONUS * (len(rules) - 1))
    return scores


def _decide(found: list[Evidence]) -> Classification:
    scores = _scores(found)
    overrule: dict[Intent, str] = {}
    opt_out = scores.pop(Intent.OPT_OUT, 0.0)
    if opt_out and opt_out < OPT_OUT_THRESHOLD:
        overrule[Intent.OPT_OUT] = "too weak to opt a lead out"
        opt_out = 0.0
    # A clear request outweighs a strong opt-out, and a fair one outweighs a softer opt-out.
    needed = min(WEIGHT_LIKELY, opt_out - 0.1)
    positive = max(
        ((scores[i], i) for i in POSITIVE & scores.keys() if scores[i] >= needed), default=None
    )
    if opt_out and positive is not None:
        overrule[Intent.OPT_OUT] = f"the message also asks ({positive[1]}): not leaving"
        opt_out = 0.0
    if opt_out:
        return _answer(Intent.OPT_OUT, opt_out, found, overrule)
    opt_in = scores.pop(Intent.OPT_IN, 0.0)
    if opt_in:  # only ever the whole message (see _bare): nothing else is in it
        return _answer(Intent.OPT_IN, opt_in, found, overrule)
    ranked = sorted(
        ((score, -PRIORITY.index(intent), intent) for intent, score in scores.items()),
        reverse=True,
    )
    if not ranked or ranked[0][0] < THRESHOLD:
        return _answer(Intent.OTHER, 0.6 if found else 0.5, found, overrule)
    return _answer(ranked[0][2], ranked[0][0], found, overrule)


def _answer(
    intent: Intent, confidence: float, found: list[Evidence], overrule: dict[Intent, str]
) -> Classification:
    """The classification, its own evidence first, then what else was found and ignored."""
    counted = [e for e in found if e.intent is intent and e.overruled_by is None]
    beaten = "too weak" if intent is Intent.OTHER else f"{intent} is stronger"
    ignored = [
        e
        if e.overruled_by
        else Evidence(e.intent, e.rule, e.matched, e.weight, overrule.get(e.intent, beaten))
        for e in found
        if e not in counted
    ]
    counted.sort(key=lambda e: -e.weight)
    note = "" if found else "no rule matched"
    return Classification(intent, round(confidence, 2), tuple(counted + ignored), note=note)
