"""Spreadsheet cells as lead fields: the words and numbers Israeli agencies actually type.

Every reader takes the text of one cell (already stripped of surrounding blanks) and returns
the field's value, or raises :class:`ovenai.import_problems.CellProblem` (an
:class:`ovenai.errors.InvalidInput`) naming the field, with a reason written for the person
fixing the file, in any language (:mod:`ovenai.import_problems`). Hebrew and English are both read:

- sources: יד2 / מדלן / הומלס (portals), פייסבוק / אינסטגרם / גוגל (ads), אתר / טופס (the
  agency's site), ווטסאפ, הפניה / המלצה (a person brought them: entered by hand) … onto
  :class:`ovenai.models.Source`; an unknown source is not an error (:func:`source` answers
  None and the import keeps the lead with source ``import``, with a warning);
- stages: חדש, נוצר קשר, נקבעה צפייה, בוצעה צפייה, משא ומתן, חוזה, נסגר, לא רלוונטי … and
  the English names (with spaces or underscores);
- yes/no: כן / לא, yes / no, true / false, 1 / 0, v / x, ✓;
- amounts: ``2800000``, ``2,800,000``, ``₪2,800,000``, ``2.8M``, ``2.8 מיליון``, ``950K``,
  ``950 אלף``, ``2,800,000 ש"ח``, ``2.800.000``;
- rooms: ``3.5``, ``3,5``, ``3.5 חדרים``, and a range ``4-5`` (fewest and most rooms).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from ovenai.import_problems import CellProblem, Kind, Problem, shown
from ovenai.models import Language, Source, Stage

# Bidi marks, non-breaking and thin spaces that Excel and phone contacts carry along.
_INVISIBLE = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u00a0\u2009\u202f\ufeff]")
_QUOTES = re.compile("[\"'`\u05f3\u05f4\u2018\u2019\u201c\u201d]")


def plain(text: str) -> str:
    """A word as looked up: no bidi marks, quotes, dashes or spaces, case-folded."""
    cleaned = _QUOTES.sub("", _INVISIBLE.sub("", text)).casefold()
    return re.sub(r"[\s\-_./]+", "", cleaned)


def _table(entries: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {plain(word): value for value, words in entries.items() for word in (value, *words)}


SOURCES = _table(
    {
        Source.PORTAL: (
            "יד2",
            "יד 2",
            "yad2",
            "yad 2",
            "מדלן",
            "madlan",
            "הומלס",
            "homeless",
            "ווינווין",
            "winwin",
            "פורטל",
            "אתר נדלן",
            "אתר נדל״ן",
        ),
        Source.AD_REFERRAL: (
            "פייסבוק",
            "facebook",
            "fb",
            "אינסטגרם",
            "instagram",
            "גוגל",
            "google",
            "מודעה",
            "פרסומת",
            "ad",
            "ads",
            "קמפיין",
            "campaign",
        ),
        Source.WEB_FORM: ("אתר", "website", "site", "web", "טופס", "form", "טופס באתר", "דף נחיתה"),
        Source.WHATSAPP: ("ווטסאפ", "וואטסאפ", "וואצאפ", "וטסאפ", "whatsapp", "wa"),
        # A person brought them (a referral, a walk-in, a call): an agent entered them.
        Source.MANUAL: (
            "הפניה",
            "הפנייה",
            "referral",
            "המלצה",
            "חבר מביא חבר",
            "ידני",
            "טלפון",
            "phone",
            "call",
            "שלט",
            "sign",
            "walk in",
            "הגיע למשרד",
        ),
        Source.IMPORT: ("ייבוא", "יבוא", "קובץ", "file"),
    }
)
STAGES = _table(
    {
        Stage.NEW: ("חדש", "חדשה", "ליד חדש", "new lead"),
        Stage.CONTACTED: ("נוצר קשר", "יצרנו קשר", "בקשר", "בטיפול", "in contact"),
        Stage.VIEWING_SCHEDULED: (
            "נקבעה צפייה",
            "נקבעה פגישה",
            "צפייה נקבעה",
            "תואמה צפייה",
            "viewing scheduled",
        ),
        Stage.VIEWING_DONE: (
            "בוצעה צפייה",
            "צפייה בוצעה",
            "היה בצפייה",
            "אחרי צפייה",
            "viewing done",
        ),
        Stage.NEGOTIATION: ("משא ומתן", "מומ", "מו״מ", "negotiating"),
        Stage.CONTRACT: ("חוזה", "בחוזה", "חתימה", "contract signing"),
        Stage.WON: ("נסגר", "נסגרה עסקה", "עסקה", "זכייה", "הצלחה", "closed won", "closed"),
        Stage.LOST: ("אבוד", "לא רלוונטי", "לא מעוניין", "closed lost", "not relevant"),
    }
)
LANGUAGES = _table(
    {
        Language.HE: ("עברית", "hebrew", "heb", "עב"),
        Language.EN: ("אנגלית", "english", "eng", "אנג"),
    }
)
# An "x" marks either in Israeli forms: it is read as neither.
_YES = {plain(w) for w in ("כן", "yes", "y", "true", "1", "v", "✓", "✔", "מאשר", "מאשרת")}
_NO = {plain(w) for w in ("לא", "no", "n", "false", "0", "לא מאשר", "לא מאשרת")}

# Amounts: the number, then an optional multiplier word.
_MILLION = ("m", "mil", "million", "מיליון", "מליון", "מ", "מלן")
_THOUSAND = ("k", "thousand", "אלף", "אלפים", "א")
_CURRENCY = re.compile(r"₪|ש\s*[\"'״׳]?\s*ח|שקלים|שקל|nis|ils|shekels?", re.IGNORECASE)
_AMOUNT = re.compile(r"(?P<number>\d[\d,.]*)\s*(?P<unit>[^\d\s,.]*)")
_ROOMS = re.compile(r"(?P<low>\d+(?:[.,]\d)?)(?:\s*[-–]\s*(?P<high>\d+(?:[.,]\d)?))?")


def _problem(kind: Kind, field: str, text: str, limit: int = 30) -> CellProblem:
    return CellProblem(Problem.of(kind, field, shown=shown(text, limit)))


def source(text: str) -> Source | None:
    """The lead source a cell names; None when it names none of the known ones."""
    found = SOURCES.get(plain(text))
    return Source(found) if found else None


def stage(text: str) -> Stage:
    """The pipeline stage a cell names (Hebrew or English)."""
    found = STAGES.get(plain(text))
    if found is None:
        raise _problem(Kind.UNKNOWN_STAGE, "stage", text, 40)
    return Stage(found)


def language(text: str) -> Language:
    """The language a cell names: Hebrew or English."""
    found = LANGUAGES.get(plain(text))
    if found is None:
        raise _problem(Kind.UNKNOWN_LANGUAGE, "language", text, 40)
    return Language(found)


def yes_no(text: str, *, field: str) -> bool:
    """A yes/no cell: כן / לא, yes / no, true / false, 1 / 0, v, ✓."""
    word = plain(text)
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise _problem(Kind.NOT_YES_NO, field, text, 20)


def amount(text: str, *, field: str) -> int:
    """A sum of shekels as a whole number: separators, ₪ and M/K/מיליון/אלף understood."""
    cleaned = _CURRENCY.sub("", _INVISIBLE.sub("", text)).strip().casefold()
    match = _AMOUNT.fullmatch(cleaned)
    unit = plain(match["unit"]) if match else ""
    if match is None or unit not in ("", *_MILLION, *_THOUSAND):
        raise _problem(Kind.NOT_AN_AMOUNT, field, text)
    number = _number(match["number"], scaled=bool(unit), field=field, text=text)
    scale = 1_000_000 if unit in _MILLION else 1_000 if unit in _THOUSAND else 1
    return int((number * scale).to_integral_value())


def _number(digits: str, *, scaled: bool, field: str, text: str) -> Decimal:
    """Digits with separators: ``,`` groups thousands (``2,800,000``) unless the number is
    scaled and the comma is a decimal point (``2,8M``); several dots group thousands too
    (``2.800.000``); one dot is a decimal point."""
    if digits.count(".") > 1:
        digits = digits.replace(".", "")
    groups = digits.split(",")
    if scaled and len(groups) == 2 and "." not in digits and len(groups[1]) != 3:
        digits = ".".join(groups)
    else:
        if any(len(group) != 3 for group in groups[1:]):
            raise _problem(Kind.THOUSANDS, field, text)
        digits = "".join(groups)
    try:
        return Decimal(digits)
    except InvalidOperation:
        raise _problem(Kind.NOT_AN_AMOUNT, field, text) from None


def rooms(text: str) -> tuple[Decimal, Decimal | None]:
    """Rooms wanted: one number (``3.5``, ``3,5 חדרים``) or a range (``4-5``)."""
    cleaned = re.sub(r"(חדרים|חד׳|חד'|חד|rooms?)", "", _INVISIBLE.sub("", text)).strip()
    match = _ROOMS.fullmatch(cleaned)
    if match is None:
        raise _problem(Kind.NOT_ROOMS, "want_rooms_min", text, 20)
    low = Decimal(match["low"].replace(",", "."))
    high = Decimal(match["high"].replace(",", ".")) if match["high"] else None
    return low, high


def whole(text: str, *, field: str) -> int:
    """A whole number such as a size in m² (``120``, ``120 מ"ר``, ``1,200``)."""
    cleaned = re.sub(r"(מ\"ר|מ״ר|מר|m2|m²|sqm)", "", _INVISIBLE.sub("", text)).strip()
    if not re.fullmatch(r"\d{1,3}(,\d{3})*|\d+", cleaned):
        raise _problem(Kind.NOT_WHOLE, field, text, 20)
    return int(cleaned.replace(",", ""))
