"""What may be written into a lead: validated input shared by the API, imports and the CLI."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from ovenai import phones
from ovenai.errors import InvalidInput
from ovenai.models import Language, Source, Stage
from ovenai.pagination import PageQuery
from ovenai.plain_text import PlainText

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), PlainText
]
Place = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), PlainText
]
Notes = Annotated[str, StringConstraints(max_length=5000), PlainText]
Rooms = Annotated[Decimal, Field(ge=0, le=50, max_digits=3, decimal_places=1)]
Money = Annotated[int, Field(ge=0, le=1_000_000_000)]
Size = Annotated[int, Field(ge=0, le=100_000)]
Id = Annotated[str, StringConstraints(min_length=36, max_length=36)]
Score = Annotated[int, Field(ge=0, le=100)]
ConsentSource = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64), PlainText]
# The exact words the lead wrote or was shown when they agreed (or were told they can refuse).
ConsentWords = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), PlainText
]
MarketingBasis = Literal["opt_in", "inquiry_30a"]
# An address as mail systems take it: one @, no spaces, a dot in the domain (RFC 5321 caps
# it at 254 characters). Deliverability is not checked: nothing is sent to it.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
MAX_EMAIL = 254


def normalize_email(raw: str) -> str:
    """An e-mail address trimmed, its domain in lower case; ValueError if it is not one."""
    text = raw.strip().strip("<>").strip()
    if len(text) > MAX_EMAIL or not _EMAIL.fullmatch(text):
        raise ValueError("is not an e-mail address (name@example.com)")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def email_key(email: str) -> str:
    """The form of an address its blind index is of: found whatever its letters' case."""
    return normalize_email(email).casefold()


def _phone(value: str) -> str:
    try:
        return phones.normalize(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class _LeadFields(_Strict):
    language: Language | None = None
    source: Source | None = None
    stage: Stage | None = None
    assigned_agent_id: Id | None = None
    property_id: Id | None = None
    want_city: Place | None = None
    want_area: Place | None = None
    want_rooms_min: Rooms | None = None
    want_rooms_max: Rooms | None = None
    want_size_min: Size | None = None
    want_budget_min: Money | None = None
    want_budget_max: Money | None = None
    notes: Notes | None = None
    email: str | None = None
    opted_in: bool | None = None
    opt_in_source: ConsentSource | None = None

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        return normalize_email(value) if value else None

    @field_validator("want_rooms_max")
    @classmethod
    def _rooms_order(cls, value: Decimal | None, info: Any) -> Decimal | None:
        low = info.data.get("want_rooms_min")
        if value is not None and low is not None and value < low:
            raise ValueError("must not be below want_rooms_min")
        return value

    @field_validator("want_budget_max")
    @classmethod
    def _budget_order(cls, value: int | None, info: Any) -> int | None:
        low = info.data.get("want_budget_min")
        if value is not None and low is not None and value < low:
            raise ValueError("must not be below want_budget_min")
        return value


class LeadCreate(_LeadFields):
    """A new lead: a name and a phone number at least."""

    name: Name
    phone: Annotated[str, StringConstraints(max_length=40)]
    language: Language = Language.HE
    source: Source = Source.MANUAL
    stage: Stage = Stage.NEW
    engagement_score: int = Field(0, ge=0, le=100)
    # The lawful basis for marketing the creator vouches for, with the words the lead saw
    # (ovenai.consent): without them the lead gets utility messages only.
    marketing_basis: MarketingBasis | None = None
    consent_words: ConsentWords | None = None

    @field_validator("phone")
    @classmethod
    def _valid_phone(cls, value: str) -> str:
        return _phone(value)

    @model_validator(mode="after")
    def _words_for_a_basis(self) -> LeadCreate:
        if self.marketing_basis is not None and self.consent_words is None:
            raise ValueError("marketing_basis needs consent_words: what the lead saw or wrote")
        return self

    def plain_fields(self) -> dict[str, Any]:
        """The columns stored as they are (not personal data)."""
        skip = {
            "name",
            "phone",
            "notes",
            "email",
            "opted_in",
            "opt_in_source",
            "marketing_basis",
            "consent_words",
        }
        return {key: value for key, value in self.model_dump().items() if key not in skip}


class LeadUpdate(_LeadFields):
    """Changes to a lead; only the fields given are touched."""

    name: Name | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    engagement_score: int | None = Field(None, ge=0, le=100)

    @field_validator("phone")
    @classmethod
    def _valid_phone(cls, value: str | None) -> str | None:
        return _phone(value) if value else value

    @field_validator("name", "language", "source", "stage", "engagement_score")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value


class LeadFilter(PageQuery):
    """Filters of the lead list."""

    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    # An exact address (any letter case); `q` with an @ searches it too.
    email: Annotated[str, StringConstraints(max_length=MAX_EMAIL)] | None = None
    stage: Stage | None = None
    source: Source | None = None
    assigned_agent_id: Id | None = None
    min_score: Score | None = None
    max_score: Score | None = None
    # newest: newest first; score: highest engagement score first (ovenai.engagement)
    sort: Literal["newest", "score"] = "newest"

    @field_validator("email")
    @classmethod
    def _valid_email_filter(cls, value: str | None) -> str | None:
        return normalize_email(value) if value else None

    @field_validator("max_score")
    @classmethod
    def _score_order(cls, value: int | None, info: Any) -> int | None:
        low = info.data.get("min_score")
        if value is not None and low is not None and value < low:
            raise ValueError("must not be below min_score")
        return value
