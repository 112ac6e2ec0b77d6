"""Why an import refused a row, or what it noticed in one, told so any language can say it.

The import (:mod:`ovenai.lead_import`) and the cell readers (:mod:`ovenai.import_values`)
describe each problem as a :class:`Problem`: its :class:`Kind`, the column it is in (the
file's own title, so in the file's language), and the few values its sentence needs. A
personal value (a phone, a name, an e-mail, notes) is never shown, only what it looked like
(:func:`looks`): the report is printed, kept on screen and pasted into tickets.

:meth:`Problem.english` is the sentence the command line prints; the dashboard says each kind
in the page's language from its own catalog (``ovenai.web.dashboard.lead_import``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ovenai.errors import InvalidInput


class Kind(StrEnum):
    """What is wrong with a row (or, for the warnings, worth a look)."""

    FIELD_COUNT = "field_count"  # fields, header
    REQUIRED = "required"
    NOT_AN_AMOUNT = "not_an_amount"  # shown
    THOUSANDS = "thousands"  # shown
    NOT_ROOMS = "not_rooms"  # shown
    NOT_WHOLE = "not_whole"  # shown
    NOT_YES_NO = "not_yes_no"  # shown
    UNKNOWN_STAGE = "unknown_stage"  # shown
    UNKNOWN_LANGUAGE = "unknown_language"  # shown
    NOT_A_PHONE = "not_a_phone"
    NOT_AN_EMAIL = "not_an_email"
    INVALID = "invalid"  # message: the validator's own (English) words
    PHONE_TAKEN = "phone_taken"  # lead
    NOT_YOURS = "not_yours"
    ERASED = "erased"  # lead
    REFUSED = "refused"  # message: any other refusal, in the service's (English) words
    UNKNOWN_SOURCE = "unknown_source"  # shown; a warning: the row is kept, as "import"
    NOT_MOBILE = "not_mobile"  # number: a warning (landline, VoIP, ...)


WARNINGS = frozenset({Kind.UNKNOWN_SOURCE, Kind.NOT_MOBILE})

STAGE_WORDS = "חדש, נוצר קשר, נקבעה צפייה, בוצעה צפייה, משא ומתן, חוזה, נסגר, לא רלוונטי"

_ENGLISH: dict[Kind, str] = {
    Kind.FIELD_COUNT: "the row has {fields} fields but the header has {header}",
    Kind.REQUIRED: "a value is required",
    Kind.NOT_AN_AMOUNT: "{shown} is not an amount (write 2800000, 2,800,000, 2.8M or 950K)",
    Kind.THOUSANDS: "{shown}: the thousands are not grouped by 3",
    Kind.NOT_ROOMS: "{shown} is not a number of rooms (write 3.5 or 4-5)",
    Kind.NOT_WHOLE: "{shown} is not a whole number",
    Kind.NOT_YES_NO: "{shown} is neither yes (כן) nor no (לא)",
    Kind.UNKNOWN_STAGE: f"unknown stage {{shown}} (write {STAGE_WORDS} or the English names)",
    Kind.UNKNOWN_LANGUAGE: "unknown language {shown} (write עברית or English)",
    Kind.NOT_A_PHONE: "not a valid phone number",
    Kind.NOT_AN_EMAIL: "is not an e-mail address",
    Kind.INVALID: "{message}",
    Kind.PHONE_TAKEN: "the phone already belongs to lead {lead}",
    Kind.NOT_YOURS: "this phone number cannot be used for this lead; ask an admin",
    Kind.ERASED: "the lead with this phone ({lead}) was erased; the row was not imported",
    Kind.REFUSED: "{message}",
    Kind.UNKNOWN_SOURCE: "unknown source {shown} kept as import",
    Kind.NOT_MOBILE: "this is {number}: WhatsApp may not reach it unless the number is "
    "registered on WhatsApp",
}
_REQUIRED_ENGLISH = {"phone": "a phone number is required", "name": "a name is required"}


@dataclass(frozen=True)
class Looks:
    """What a personal value looked like: ``digits`` digits, or text of ``characters``."""

    digits: int = 0
    characters: int = 0

    def english(self) -> str:
        """``a value of 5 digits`` / ``a value of text of 12 characters``."""
        if self.digits:
            return f"a value of {self.digits} digits"
        return f"a value of text of {self.characters} characters"


def looks(value: str) -> Looks:
    """A value described without showing it: mostly digits, or text of some length."""
    digits = sum(ch.isdigit() for ch in value)
    if digits and digits >= len(value.replace(" ", "").replace("-", "")) - 1:
        return Looks(digits=digits)
    return Looks(characters=len(value))


def shown(value: str, limit: int = 30) -> str:
    """A value that is not personal data, quoted and cut as a report shows it."""
    return repr(value[:limit])


@dataclass(frozen=True)
class Problem:
    """One problem of a row: its kind, where (field and the file's column title) and the
    values its sentence needs (``shown``, ``message``, ``lead``, ...)."""

    kind: Kind
    field: str | None = None
    column: str | None = None
    values: tuple[tuple[str, str | int], ...] = ()
    looked: Looks | None = None  # a personal value's description

    @classmethod
    def of(
        cls, kind: Kind, field: str | None = None, looked: Looks | None = None, **values: str | int
    ) -> Problem:
        """A problem with its sentence's values given by name."""
        return cls(kind, field, values=tuple(values.items()), looked=looked)

    def at(self, field: str, column: str | None) -> Problem:
        """The same problem placed in a column (``column``: the file's title for ``field``)."""
        return Problem(self.kind, field, column, self.values, self.looked)

    @property
    def named(self) -> dict[str, str | int]:
        """The sentence's values by name."""
        return dict(self.values)

    @property
    def is_warning(self) -> bool:
        """Whether the row is kept despite it."""
        return self.kind in WARNINGS

    def sentence(self) -> str:
        """The problem itself in English, without where it is."""
        if self.kind is Kind.REQUIRED and self.field in _REQUIRED_ENGLISH:
            return _REQUIRED_ENGLISH[self.field]
        return _ENGLISH[self.kind].format(**self.named)

    def english(self) -> str:
        """The line the command line prints: ``column 'תקציב' (want_budget_max): ...``."""
        text = self.sentence()
        if self.looked is not None:
            text += f" ({self.looked.english()})"
        if self.field is None or self.is_warning:
            return text
        if self.column and self.column != self.field:
            return f"column {self.column!r} ({self.field}): {text}"
        return f"column {self.field!r}: {text}"


class CellProblem(InvalidInput):
    """A cell the readers of :mod:`ovenai.import_values` cannot read, as a :class:`Problem`."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.sentence(), field=problem.field)
        self.problem = problem
