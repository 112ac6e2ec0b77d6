"""Public shapes of the REST API (what clients receive), derived from the domain records.

Each public model is built by :func:`public_model` from its record: a dataclass of the
domain, or an ORM row's columns. A field is therefore written once, on the record, and the
fields a record keeps from clients are named beside the model as ``private``. :func:`answer`
builds a model from a record and refuses a record whose fields are not exactly the model's
plus its private ones, so a field is never dropped silently. The field lists clients rely
on are recorded in tests/web/test_public_schemas.py.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel, create_model, model_validator

from ovenai import phones
from ovenai.accounts import Account
from ovenai.audit import AuditRecord
from ovenai.consent import ConsentState, LedgerEntry
from ovenai.conversations import MessageError, MessageRecord
from ovenai.engagement import ScoreChangeRecord, ScoreHistory
from ovenai.ingest.failures import FailedBody, ItemFailure
from ovenai.leads import LeadRecord
from ovenai.matching import Check, Exclusion, Match, Matches
from ovenai.meetings import MeetingRecord
from ovenai.models import Property
from ovenai.pagination import Page
from ovenai.privacy import ErasureReport, RequestRecord
from ovenai.property_files import FileRecord
from ovenai.quiet_hours import Hold, Kind
from ovenai.sessions import SessionInfo

T = TypeVar("T")
PublicT = TypeVar("PublicT", bound="PublicModel")


class PublicModel(BaseModel):
    """A public shape derived from a record type; ``private`` names the fields not shown."""

    private: ClassVar[frozenset[str]] = frozenset()


def _record_fields(record: type[Any]) -> dict[str, Any]:
    """A record's fields and their types, in order: a dataclass's fields or a row's columns."""
    hints = get_type_hints(record)
    if dataclasses.is_dataclass(record):
        return {field.name: hints[field.name] for field in dataclasses.fields(record)}
    # An ORM row: each column is annotated Mapped[type].
    return {column.key: get_args(hints[column.key])[0] for column in record.__table__.columns}


def _public_type(hint: Any) -> Any:
    """Decimals are shown as JSON numbers, so the schema says number (in unions too)."""
    if hint is Decimal:
        return float
    if get_origin(hint) in (Union, types.UnionType):
        return functools.reduce(operator.or_, (_public_type(arg) for arg in get_args(hint)))
    return hint


def public_model(
    record: type[Any],
    name: str,
    doc: str,
    *,
    private: Iterable[str] = (),
    overrides: Mapping[str, Any] | None = None,
    base: type[PublicModel] = PublicModel,
) -> type[PublicModel]:
    """The public model of a record: its fields but the private ones, typed as the record's
    (or as ``overrides`` says), after those of ``base``; `name` and `doc` appear in OpenAPI."""
    hints = _record_fields(record)
    hidden, changed = frozenset(private), dict(overrides or {})
    unknown = (hidden | changed.keys()) - hints.keys()
    if unknown:
        raise TypeError(f"{name}: {record.__name__} has no field {sorted(unknown)}")
    fields: dict[str, Any] = {
        field: (changed.get(field, _public_type(hint)), ...)
        for field, hint in hints.items()
        if field not in hidden and field not in base.model_fields
    }
    model = create_model(name, __base__=base, __doc__=doc, __module__=__name__, **fields)
    model.private = hidden
    return model


def answer(model: type[PublicT], record: Any, zone: tzinfo | None = None) -> PublicT:
    """A record as its public model: times in `zone` (as stored when None), decimals as
    numbers; TypeError if the record has a field the model neither shows nor hides."""
    values = _plain(record)
    _check_fits(model, type(record).__name__, values.keys() - model.private)
    return model(**{key: _value(values[key], zone) for key in model.model_fields})


def _check_fits(model: type[PublicModel], record_name: str, shown: set[str]) -> None:
    if shown != model.model_fields.keys():
        raise TypeError(
            f"{model.__name__} does not fit {record_name}: record fields not shown "
            f"{sorted(shown - model.model_fields.keys())}, model fields not in the record "
            f"{sorted(model.model_fields.keys() - shown)}"
        )


def _plain(record: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return dataclasses.asdict(record)
    return {column.key: getattr(record, column.key) for column in record.__table__.columns}


def _value(value: Any, zone: tzinfo | None) -> Any:
    if isinstance(value, datetime):
        return value if zone is None else value.astimezone(zone)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return type(value)(_value(item, zone) for item in value)
    if isinstance(value, dict):
        return {key: _value(item, zone) for key, item in value.items()}
    return value


class PagePublic(BaseModel, Generic[T]):
    """One page of a list and the cursor of the next."""

    items: list[T]
    next_cursor: str | None


# Response models of derived items are built by these two functions, as mypy cannot
# subscript a generic with a variable.
def page_model(item: type[PublicModel]) -> type[PagePublic[Any]]:
    """``PagePublic[item]``: the response model of a list in pages."""
    generic: Any = PagePublic
    page: type[PagePublic[Any]] = generic[item]
    return page


def list_model(item: type[PublicModel]) -> Any:
    """``list[item]``: the response model of a whole list."""
    return types.GenericAlias(list, (item,))


def page_answer(model: type[PublicModel], page: Page[Any], zone: tzinfo) -> PagePublic[PublicModel]:
    """A page of records as public models, with the cursor of the next."""
    items = [answer(model, record, zone) for record in page.items]
    return PagePublic(items=items, next_cursor=page.next_cursor)


class QuietReasonPublic(BaseModel):
    """Why a quiet time holds marketing: night, shabbat or holiday, named in English and
    Hebrew ("Shabbat" / "שבת", "Rosh Hashanah" / "ראש השנה")."""

    kind: Kind
    name_en: str
    name_he: str


class HeldPublic(BaseModel):
    """A queued marketing message waiting out a quiet time: when it will leave, and why."""

    until: datetime
    reason: QuietReasonPublic

    @classmethod
    def of(cls, hold: Hold, zone: tzinfo) -> HeldPublic:
        """A hold as shown, its time in ``zone``."""
        return cls(until=hold.until.astimezone(zone), reason=dataclasses.asdict(hold.reason))


class StatusChangePublic(BaseModel):
    """One step of a message's status history."""

    status: str
    at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: Any) -> Any:
        """Message records keep their history as (status, at) pairs."""
        if isinstance(value, tuple):
            status, at = value
            return {"status": status, "at": at}
        return value


LeadPublic = public_model(LeadRecord, "LeadPublic", "A lead.")


class WarningPublic(BaseModel):
    """Something accepted that may not work as meant (the request still succeeded)."""

    field: str
    message: str


class LeadSavedPublic(LeadPublic):  # type: ignore[misc,valid-type]
    """A lead as created or changed, with warnings (a phone WhatsApp may not reach)."""

    warnings: list[WarningPublic]


def saved_lead(record: LeadRecord, zone: tzinfo) -> LeadSavedPublic:
    """A created or changed lead with its warnings: a landline, VoIP or service number is
    kept, but WhatsApp may not reach it."""
    shown = answer(LeadPublic, record, zone)
    warning = phones.reach_warning(record.phone) if record.phone else None
    found = [WarningPublic(field="phone", message=warning)] if warning else []
    return LeadSavedPublic(**dict(shown), warnings=found)


ScoreChangePublic = public_model(
    ScoreChangeRecord, "ScoreChangePublic", "One change of a lead's engagement score, and why."
)
ScorePublic = public_model(
    ScoreHistory,
    "ScorePublic",
    "A lead's engagement score and its changes, newest first (a page of them).",
    overrides={"changes": list_model(ScoreChangePublic)},
)
LedgerEntryPublic = public_model(
    LedgerEntry, "LedgerEntryPublic", "One change of a lead's consent, with its words."
)
ConsentPublic = public_model(
    ConsentState,
    "ConsentPublic",
    "A lead's marketing consent: state, lawful basis and ledger (oldest first).",
    overrides={"ledger": list_model(LedgerEntryPublic)},
)
PropertyPublic = public_model(Property, "PropertyPublic", "A listing.")
PropertyFilePublic = public_model(
    FileRecord, "PropertyFilePublic", "A listing's photo or brochure (no bytes)."
)
MeetingPublic = public_model(MeetingRecord, "MeetingPublic", "A viewing.")
CheckPublic = public_model(Check, "CheckPublic", "One criterion of a lead compared with a listing.")
MatchPublic = public_model(
    Match,
    "MatchPublic",
    "A lead a listing suits, with the criteria that hold.",
    overrides={"lead": LeadPublic, "reasons": list_model(CheckPublic)},
)
ExclusionPublic = public_model(
    Exclusion,
    "ExclusionPublic",
    "A lead a listing does not suit, with the criteria that fail.",
    overrides={"reasons": list_model(CheckPublic)},
)
MatchesPublic = public_model(
    Matches,
    "MatchesPublic",
    "The leads a listing suits (best first) and the others with their reasons.",
    overrides={"matches": list_model(MatchPublic), "excluded": list_model(ExclusionPublic)},
)
MessageErrorPublic = public_model(MessageError, "MessageErrorPublic", "Why Meta failed a message.")
MessagePublic = public_model(
    MessageRecord,
    "MessagePublic",
    "One message of a conversation.",
    # A conversation is listed under its lead, and the history is one message's detail.
    private={"lead_id", "status_history"},
    overrides={"error": MessageErrorPublic | None, "held": HeldPublic | None},
)
MessageDetailPublic = public_model(
    MessageRecord,
    "MessageDetailPublic",
    "A message with its status history.",
    overrides={"status_history": list[StatusChangePublic]},
    base=MessagePublic,
)
RequestPublic = public_model(
    RequestRecord, "RequestPublic", "A data-subject request and its deadline."
)
ErasurePublic = public_model(ErasureReport, "ErasurePublic", "What an erasure touched.")
AuditPublic = public_model(AuditRecord, "AuditPublic", "One audit entry.")
ItemFailurePublic = public_model(
    ItemFailure, "ItemFailurePublic", "An item of a webhook body that could not be read."
)
FailedBodyPublic = public_model(
    FailedBody,
    "FailedBodyPublic",
    "A stored webhook body that failed, or that has items that could not be read.",
    overrides={"items": list_model(ItemFailurePublic)},
)
AccountPublic = public_model(
    Account, "AccountPublic", "A user who signs in (never their password or its hash)."
)
SessionPublic = public_model(SessionInfo, "SessionPublic", "A signed-in dashboard browser.")
