"""Intents of inbound messages: traps, both languages, normalisation, buttons, the measured figures.

The figures are computed here by the service function (:func:`ovenai.intents.evaluate`) on
the bundled set (tuned on) and the held-out set (never tuned on); the tests hold them to the
bar the product needs, not to memorised results.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ovenai import intents
from ovenai.errors import InvalidInput
from ovenai.events.content import (
    InteractiveReplyContent,
    MediaContent,
    MessageContent,
    ReactionContent,
    TemplateButtonContent,
    TextContent,
)
from ovenai.events.enums import InteractiveReplyType
from ovenai.intents import Classification, Intent, ReplyButton, normalise

HELDOUT = Path(__file__).parent / "fixtures" / "intents" / "heldout.jsonl"
CLASSIFIER = intents.default_classifier()


def intent_of(text: str) -> Intent:
    return CLASSIFIER.classify(text).intent


# --- traps: they look like one intent and are another ---------------------------------

TRAPS = [
    ("אל תסירו אותי", Intent.OTHER),
    ("אל תסירו אותי מהרשימה, אני עדיין מחפש", Intent.OTHER),
    ("לא להסיר אותי בבקשה", Intent.OTHER),
    ("stop by tomorrow", Intent.WANTS_VIEWING),
    ("Can I stop by tomorrow at 6 to see the apartment?", Intent.WANTS_VIEWING),
    ("please don't call, WhatsApp is better", Intent.OTHER),
    ("אל תתקשר, עדיף בווטסאפ", Intent.OTHER),
    ("don't call me at work, call after 5", Intent.WANTS_CALL),
    ("לא מעוניין כרגע במחיר הזה", Intent.NOT_INTERESTED),
    ("לא מעוניין", Intent.NOT_INTERESTED),
    ("please don't remove me, I'm still looking", Intent.OTHER),
    ("why did you stop sending me apartments?", Intent.OTHER),
    ("did you take me off the list by mistake?", Intent.OTHER),
    ("תפסיקו לשלוח לי דירות בבת ים, אני מחפש רק ברמת גן", Intent.OTHER),
    ("stop sending me 3 room places, I need 4 rooms", Intent.OTHER),
    ("is the bus stop close?", Intent.ASKS_PRICE),
    ("stop 😂", Intent.OTHER),
    ("אין צורך להתקשר, מספיק לכתוב לי", Intent.OTHER),
    ("no need to send more reminders, I'll be there", Intent.WANTS_VIEWING),
    ("remove me from the Sunday viewing, I can't make it", Intent.OTHER),
    ("מי ביקש להסיר אותי?", Intent.OTHER),
    ("זה ספאם?", Intent.OTHER),
    ("how do I stop the alerts for Haifa", Intent.OTHER),
    ("אני לא מעוניין לחכות, אפשר לראות מחר?", Intent.WANTS_VIEWING),
    ("יש אפשרות לראות עוד תמונות של המטבח?", Intent.ASKS_PRICE),
    ("Stop!!! this is perfect, when can we see it?", Intent.WANTS_VIEWING),
]


@pytest.mark.parametrize(("text", "intent"), TRAPS)
def test_a_trap_is_read_for_what_it_is(text: str, intent: Intent) -> None:
    assert intent_of(text) is intent


def test_a_negated_opt_out_says_what_negated_it() -> None:
    result = CLASSIFIER.classify("אל תסירו אותי")
    (evidence,) = result.evidence
    assert evidence.intent is Intent.OPT_OUT and evidence.matched == "תסירו אותי"
    assert evidence.overruled_by == 'negated by "אל"'
    assert 'negated by "אל"' in result.reason


def test_an_opt_out_beside_a_request_is_not_an_opt_out_and_says_why() -> None:
    result = CLASSIFIER.classify("אל תכתוב לי, תתקשר")
    assert result.intent is Intent.WANTS_CALL
    assert "not leaving" in result.reason


# --- every intent, Hebrew and English --------------------------------------------------

EACH_INTENT = [
    ("אפשר לבוא לראות את הדירה מחר?", Intent.WANTS_VIEWING),
    ("I'd love to book a viewing this week", Intent.WANTS_VIEWING),
    ("כמה זה עולה?", Intent.ASKS_PRICE),
    ("what's the monthly rent?", Intent.ASKS_PRICE),
    ("תודה, כבר מצאנו משהו אחר", Intent.NOT_INTERESTED),
    ("too pricey for us, we'll pass", Intent.NOT_INTERESTED),
    ("תתקשר אליי בבקשה", Intent.WANTS_CALL),
    ("can you give me a call this evening?", Intent.WANTS_CALL),
    ("תורידו אותי מהרשימה", Intent.OPT_OUT),
    ("please stop sending me these messages", Intent.OPT_OUT),
    ("תודה רבה!", Intent.OTHER),
    ("who is this?", Intent.OTHER),
    ("hey, מתי אפשר לבוא לראות?", Intent.WANTS_VIEWING),
    ("pls תסירו אותי", Intent.OPT_OUT),
]


@pytest.mark.parametrize(("text", "intent"), EACH_INTENT)
def test_each_intent_is_read_in_hebrew_english_and_both(text: str, intent: Intent) -> None:
    assert intent_of(text) is intent


OPT_OUTS = [
    "STOP",
    "stop",
    "הסר",
    "הסרה",
    "הסירו אותי",
    "תוריד אותי מהרשימה",
    "לא לשלוח לי יותר",
    "unsubscribe",
    "remove me",
    "take me off your mailing list",
    "אני לא רוצה לקבל יותר הודעות מכם",
    "don't text me anymore",
    "Stop promotions",
    "נא להסיר",
]


@pytest.mark.parametrize("text", OPT_OUTS)
def test_opt_out_forms_are_read_as_opt_out(text: str) -> None:
    result = CLASSIFIER.classify(text)
    assert result.intent is Intent.OPT_OUT
    assert result.confidence >= 0.8 and result.evidence


def test_the_answer_carries_its_evidence_and_confidence() -> None:
    result = CLASSIFIER.classify("היי, כמה עולה הדירה? אפשר לבוא לראות מחר?")
    assert result.intent is Intent.WANTS_VIEWING  # the viewing asks more of an agent
    assert 0 < result.confidence <= 1
    assert result.evidence[0].intent is Intent.WANTS_VIEWING
    assert any(e.intent is Intent.ASKS_PRICE and e.overruled_by for e in result.evidence)
    assert result.classifier == "lexicon"


@pytest.mark.parametrize("text", ["", "   ", "\u200f", "😊", "!!!", "x" * 10_000, "לא " * 3000])
def test_any_text_gets_an_answer(text: str) -> None:
    assert isinstance(CLASSIFIER.classify(text), Classification)


# --- normalisation ---------------------------------------------------------------------

NORMALISED = [
    ("הָסֵר", "הסר"),  # niqqud
    ("\u200fתסירו אותי\u200e", "תסירו אותי"),  # bidi marks
    ("\u202bהסר\u202c\u200d", "הסר"),  # embedding and zero-width joiner
    ("שָׁלוֹם", "שלומ"),  # niqqud and a final letter
    ("תודה רבה", "תודה רבה"),
    ("פליייייז", "פליז"),  # stretched letters
    ("תודהה", "תודה"),  # a doubled final ה
    ("STOOOOP", "stop"),
    ("ＳＴＯＰ", "stop"),  # full-width letters
    ("Don’t text me", "do not text me"),  # a curly apostrophe and a contraction
    ("dont", "do not"),
    ("we'll pass", "we will pass"),
    ("pls call me tmrw", "please call me tomorrow"),
    ('ממ"ד?', "ממד?"),
    ("מ״ר", "מר"),  # gershayim
    ("כמה מ׳׳ר", "כמה מר"),  # two gereshes typed for gershayim
    ("👍🏽👍", "👍👍"),  # skin tones dropped, the emoji kept
    ("2000000₪!!!", "2000000₪!"),  # digits never touched
    ("  a \n b  ", "a b"),
]


@pytest.mark.parametrize(("raw", "normal"), NORMALISED)
def test_normalisation_gives_one_spelling(raw: str, normal: str) -> None:
    assert normalise(raw) == normal


@pytest.mark.parametrize(
    "text", ["הָסֵר", "\u200fהסר\u200e", "הסרהההה", "תסירווו אותי פליייייז", "STOP!!!", "Stop ✋"]
)
def test_spelling_does_not_change_an_opt_out(text: str) -> None:
    assert intent_of(text) is Intent.OPT_OUT


def test_final_letters_typed_as_ordinary_ones_still_match() -> None:
    assert intent_of("לא מעוניינ") is Intent.NOT_INTERESTED
    assert intent_of("תורידו אותי מהרשימה שלכמ") is Intent.OPT_OUT


def test_emoji_are_signals() -> None:
    assert intent_of("📞") is Intent.WANTS_CALL
    assert intent_of("👎") is Intent.NOT_INTERESTED
    assert intent_of("מה המחיר? 💰") is Intent.ASKS_PRICE


# --- button replies --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "intent"),
    [
        (ReplyButton.VIEWING_CONFIRM, Intent.WANTS_VIEWING),
        (ReplyButton.VIEWING_RESCHEDULE, Intent.WANTS_VIEWING),
        (ReplyButton.VIEWING_CANCEL, Intent.OTHER),
        (ReplyButton.CALL_ME, Intent.WANTS_CALL),
        (ReplyButton.DETAILS, Intent.ASKS_PRICE),
        (ReplyButton.NOT_INTERESTED, Intent.NOT_INTERESTED),
        (ReplyButton.STOP, Intent.OPT_OUT),
        ("viewing_confirm:0190f1e2-7a4b-7c3d-8e9f-0a1b2c3d4e5f", Intent.WANTS_VIEWING),
        ("VIEWING-CONFIRM", Intent.WANTS_VIEWING),
        ("intent:wants_call", Intent.WANTS_CALL),
        ("intent:opt_out:campaign-7", Intent.OPT_OUT),
    ],
)
def test_a_payload_we_set_is_read_exactly(payload: str, intent: Intent) -> None:
    result = intents.classify_reply(payload, "whatever the title says", CLASSIFIER)
    assert (result.intent, result.confidence, result.classifier) == (intent, 1.0, "button")


@pytest.mark.parametrize(
    ("payload", "title", "intent"),
    [
        (None, "Stop promotions", Intent.OPT_OUT),
        ("Stop promotions", "Stop promotions", Intent.OPT_OUT),  # payload defaulted to the text
        ("some-other-app-123", "כן, אשמח לקבוע צפייה", Intent.WANTS_VIEWING),
        ("intent:no_such_intent", "תתקשרו אליי", Intent.WANTS_CALL),
        ("x", "", Intent.OTHER),
        (None, None, Intent.OTHER),
    ],
)
def test_a_foreign_button_is_read_by_its_title(
    payload: str | None, title: str | None, intent: Intent
) -> None:
    result = intents.classify_reply(payload, title, CLASSIFIER)
    assert result.intent is intent
    assert result.classifier == "lexicon" or result.confidence == 0.5


def test_content_of_every_kind_gets_an_intent() -> None:
    def of(content: MessageContent) -> Intent:
        return intents.classify_content(content, CLASSIFIER).intent

    assert of(TextContent(body="תסירו אותי")) is Intent.OPT_OUT
    assert of(TemplateButtonContent(payload="call_me", text="Call me")) is Intent.WANTS_CALL
    button = InteractiveReplyContent(
        reply_type=InteractiveReplyType.BUTTON_REPLY,
        reply_type_raw="button_reply",
        reply_id="viewing_confirm:m1",
        title="מאשר",
    )
    assert of(button) is Intent.WANTS_VIEWING
    row = InteractiveReplyContent(
        reply_type=InteractiveReplyType.LIST_REPLY,
        reply_type_raw="list_reply",
        reply_id="slot-3",
        title="אפשר ביום שלישי",
    )
    assert of(row) is Intent.WANTS_VIEWING
    flow = InteractiveReplyContent(
        reply_type=InteractiveReplyType.NFM_REPLY, reply_type_raw="nfm_reply"
    )
    assert of(flow) is Intent.OTHER
    assert of(MediaContent(media_kind="image", caption="כמה עולה?")) is Intent.ASKS_PRICE
    assert of(MediaContent(media_kind="audio", voice=True)) is Intent.OTHER
    assert of(ReactionContent(emoji="👍")) is Intent.OTHER


# --- the interface: another classifier fits where the lexicon does ---------------------


class EverythingIsOther:
    """A stand-in for a model-based classifier: anything with ``classify`` will do."""

    def classify(self, text: str, *, language: str | None = None) -> Classification:
        return Classification(Intent.OTHER, 0.5, classifier="stand-in")


def test_another_classifier_can_replace_the_lexicon() -> None:
    classifier: intents.IntentClassifier = EverythingIsOther()
    measured = intents.evaluate(intents.load_samples(), classifier)
    assert measured.figures(Intent.OPT_OUT).precision is None  # never said opt-out
    assert measured.figures(Intent.OTHER).recall == 1.0
    reply = intents.classify_reply("unknown", "Stop promotions", classifier)
    assert reply.classifier == "stand-in"


# --- the measured figures --------------------------------------------------------------


def _samples(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_the_sets_are_large_enough_and_apart() -> None:
    bundled = intents.load_samples()
    heldout = intents.load_samples(HELDOUT)
    assert len(bundled) >= 120 and len(heldout) >= 60
    assert {s.text for s in bundled}.isdisjoint({s.text for s in heldout})
    for samples in (bundled, heldout):
        assert {s.intent for s in samples} == set(Intent)
        assert {s.language for s in samples} == {"he", "en"}


def test_opt_out_is_exact_on_the_bundled_set() -> None:
    measured = intents.evaluate(intents.load_samples(), CLASSIFIER)
    opt_out = measured.figures(Intent.OPT_OUT)
    assert opt_out.precision == 1.0, [o.sample.text for o in measured.false_opt_outs]
    assert opt_out.support >= 50
    assert measured.accuracy >= 0.95


def test_opt_out_is_precise_on_messages_never_tuned_on() -> None:
    measured = intents.evaluate(intents.load_samples(HELDOUT), CLASSIFIER)
    opt_out = measured.figures(Intent.OPT_OUT)
    assert opt_out.precision is not None and opt_out.precision >= 0.95, [
        o.sample.text for o in measured.false_opt_outs
    ]
    assert opt_out.support >= 20
    assert measured.accuracy >= 0.85  # measured 0.96 when written; a floor, not the figure


def test_the_evaluation_counts_what_it_says() -> None:
    samples = [
        intents.Sample("stop", Intent.OPT_OUT, "en"),
        intents.Sample("STOP", Intent.OTHER, "en"),  # mislabelled on purpose: a false opt-out
        intents.Sample("כמה זה עולה?", Intent.ASKS_PRICE, "he"),
        intents.Sample("תסירו אותי", Intent.WANTS_CALL, "he"),
    ]
    measured = intents.evaluate(samples, CLASSIFIER)
    opt_out = measured.figures(Intent.OPT_OUT)
    assert (opt_out.support, opt_out.predicted, opt_out.correct) == (1, 3, 1)
    assert opt_out.precision == pytest.approx(1 / 3) and opt_out.recall == 1.0
    assert [o.sample.text for o in measured.false_opt_outs] == ["STOP", "תסירו אותי"]
    assert measured.missed_opt_outs == ()
    assert measured.figures(Intent.WANTS_CALL).recall == 0.0
    assert measured.figures(Intent.NOT_INTERESTED).precision is None
    assert (measured.correct, measured.total) == (2, 4)
    assert measured.accuracy_by_language() == {"en": (1, 2), "he": (1, 2)}
    assert measured.confusion()[(Intent.OTHER, Intent.OPT_OUT)] == 1


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"text": "hi", "intent": "other"}\nnot json\n', "line 2: not JSON"),
        ('{"text": "hi", "intent": "maybe"}\n', "line 1: intent 'maybe' is not one of"),
        ('{"text": "", "intent": "other"}\n', "line 1: text must be a non-empty string"),
        ('["hi", "other"]\n', "line 1: expected an object"),
        ("\n\n", "holds no samples"),
    ],
)
def test_a_bad_labelled_file_names_its_line(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput, match=problem):
        intents.load_samples(path)


def test_the_same_text_is_read_once_and_the_memory_stays_small() -> None:
    classifier = intents.RuleClassifier()
    first = classifier.classify("הסר")
    assert classifier.classify("הסר", language="he") is first  # the next hook's question
    for n in range(intents.rules.RECENT):
        classifier.classify(f"message {n}")
    again = classifier.classify("הסר")
    assert again is not first  # forgotten after RECENT other messages: read afresh
    assert again == first
