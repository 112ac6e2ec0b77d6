"""The one spelling of a message the lexicon is written against.

WhatsApp text arrives with niqqud now and then, bidi and zero-width marks pasted from other
apps, final and non-final letters swapped by fast typists, stretched words ("פליייייז",
"stoooop"), curly quotes, contractions and texting shorthand. :func:`normalise` turns all of
that into one form (case-folded, Hebrew final letters as their ordinary forms), so a rule
written once matches every spelling. Emoji are kept: a few of them are signals (📞, 💰).
Digits are never touched: "2000000" must stay a price.
"""

from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 4096
"""WhatsApp's limit for one text; anything longer is read up to here."""

FINAL_LETTERS = str.maketrans("ךםןףץ", "כמנפצ")

_PUNCTUATION = str.maketrans(
    {
        "׳": "'",  # geresh
        "״": '"',  # gershayim
        "’": "'",
        "‘": "'",
        "`": "'",
        "´": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "־": "-",  # maqaf
        "–": "-",
        "—": "-",
        "׃": ".",  # sof pasuq
        "\u00a0": " ",
    }
)
_SKIN_TONES = re.compile("[\U0001f3fb-\U0001f3ff]")
_STRETCHED = re.compile(r"([^\W\d_])\1{2,}")  # a letter three times or more
_HEBREW_DOUBLED_END = re.compile(r"([הו])\1(?![א-ת])")  # "תודהה", "תסירוו"
_ACRONYM_MARK = re.compile(r"(?<=[א-ת])[\"'](?=[א-ת])")  # ממ"ד, מ"ר, אחה"צ
_REPEATED_MARKS = re.compile(r"([!?.,])\1+")
_SPACES = re.compile(r"\s+")

# Contractions first (so "don't" and "dont" both become "do not"), then shorthand.
_NOT = re.compile(r"\b(can|won|don|doesn|didn|isn|aren|wasn|weren|haven|hasn|shouldn|wouldn)'?t\b")
_CONTRACTIONS = (
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"(?<=[a-z])'(?=[a-z])"), ""),  # what's -> whats, let's -> lets
)
_NEGATIONS = {
    "can": "can not",
    "won": "will not",
    "don": "do not",
    "doesn": "does not",
    "didn": "did not",
    "isn": "is not",
    "aren": "are not",
    "wasn": "was not",
    "weren": "were not",
    "haven": "have not",
    "hasn": "has not",
    "shouldn": "should not",
    "wouldn": "would not",
}
_SHORTHAND = {
    "u": "you",
    "ya": "you",
    "ur": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "plzz": "please",
    "plss": "please",
    "pleez": "please",
    "plis": "please",
    "thx": "thanks",
    "thnx": "thanks",
    "tnx": "thanks",
    "thanx": "thanks",
    "ty": "thanks",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tmw": "tomorrow",
    "2moro": "tomorrow",
    "2morrow": "tomorrow",
    "tomorow": "tomorrow",
    "tommorow": "tomorrow",
    "tommorrow": "tomorrow",
    "wanna": "want to",
    "gonna": "going to",
    "gimme": "give me",
    "lemme": "let me",
    "msg": "message",
    "msgs": "messages",
    "txt": "text",
    "txts": "texts",
    "apt": "apartment",
    "appt": "appointment",
    "im": "i am",
    "ive": "i have",
    "id": "i would",
    "youre": "you are",
    "cannot": "can not",
    "cant": "can not",
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "wont": "will not",
    "isnt": "is not",
    "arent": "are not",
    "wa": "whatsapp",
}
_WORD = re.compile(r"[a-z0-9]+")


def _negation(match: re.Match[str]) -> str:
    return _NEGATIONS[match.group(1)]


def _shorthand(match: re.Match[str]) -> str:
    word = match.group(0)
    return _SHORTHAND.get(word, word)


def strip_marks(text: str) -> str:
    """Drop niqqud, cantillation, accents and invisible format marks (bidi, zero-width).

    Compatibility decomposition also splits Hebrew presentation forms (שׁ) and full-width
    letters into their plain letters before the marks go.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if unicodedata.category(ch) not in ("Mn", "Cf"))
    return unicodedata.normalize("NFC", kept)


def normalise(text: str) -> str:
    """Return the lexicon's spelling of ``text`` (see the module docstring)."""
    text = strip_marks(text[:MAX_CHARS]).translate(_PUNCTUATION).replace("''", '"')
    text = _SKIN_TONES.sub("", text).casefold().translate(FINAL_LETTERS)
    text = _ACRONYM_MARK.sub("", text)
    text = _STRETCHED.sub(r"\1", text)
    text = _HEBREW_DOUBLED_END.sub(r"\1", text)
    text = _REPEATED_MARKS.sub(r"\1", text)
    text = _NOT.sub(_negation, text)
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    text = _WORD.sub(_shorthand, text)
    return _SPACES.sub(" ", text).strip()


def script_language(text: str) -> str | None:
    """``he`` or ``en`` by which script has more letters, or None for no letters at all."""
    hebrew = sum(1 for ch in text if "\u05d0" <= ch <= "\u05ea")
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    if not hebrew and not latin:
        return None
    return "he" if hebrew >= latin else "en"
