"""Decode a verified webhook body into typed events (Meta: Cloud API › Webhooks › Reference).

:func:`parse_webhook` flattens EVERY entry, change, message, status, preference and
out-of-band error of a batch, in document order (entry, then change, then within a
``messages`` change: messages, statuses, preferences, errors). Meta batches several
entries and changes in one POST, so each is decoded on its own: an entry or change we
cannot read becomes ONE :class:`UnreadableItem` carrying its ``path``
(``$.entry[1]``, ``$.entry[0].changes[2]``) and every sound sibling still yields its
events. Only non-JSON (invalid UTF-8 included), nesting deeper than
:data:`~ovenai.ingest.receive.depth_guard.MAX_DEPTH`, or a body that is not an
``{"object": "...", "entry": [...]}`` object raises (:class:`MalformedPayload`): nothing in
it could be applied. Inside a change, an odd item becomes an :class:`UnsupportedContent`
message or an :class:`UnreadableItem`, and an unknown object or field an
:class:`IgnoredChange`. How types are read: :mod:`ovenai.ingest.parse.lenient_json`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import msgspec
from msgspec import Raw

from ovenai.events import IgnoredChange, PlatformErrorReport, WebhookEvent
from ovenai.ingest.errors import MalformedPayload, PayloadTooDeep
from ovenai.ingest.parse import change_structs as wire
from ovenai.ingest.parse.account_parser import (
    account_event,
    template_category_event,
    template_quality_event,
    template_status_event,
)
from ovenai.ingest.parse.change_source import (
    ITEM_ERRORS,
    ChangeSource,
    error_detail,
    unreadable,
    unreadable_entry,
)
from ovenai.ingest.parse.lenient_json import read
from ovenai.ingest.parse.message_parser import message_events
from ovenai.ingest.parse.preference_parser import preference_events
from ovenai.ingest.parse.sender_identity import ContactBook
from ovenai.ingest.parse.status_parser import status_events
from ovenai.ingest.receive.depth_guard import MAX_DEPTH, is_too_deep

WHATSAPP_OBJECT = "whatsapp_business_account"

# Account-level fields kept as generic AccountEvents (value raw); any other field is ignored.
ACCOUNT_FIELDS = frozenset(
    {
        "account_update",
        "account_alerts",
        "account_review_update",
        "business_capability_update",
        "phone_number_quality_update",
        "phone_number_name_update",
        "message_template_components_update",
        "security",
        "smb_message_echoes",
        "smb_app_state_sync",
        "history",
        "automatic_events",
        "ovenai_probe",  # our own signed test body (ovenai.webhook_probe), never Meta's
    }
)

_BAD_JSON = (msgspec.DecodeError, RecursionError)
_T = TypeVar("_T")


def parse_webhook(raw_body: bytes) -> list[WebhookEvent]:
    """Decode a verified webhook body into its events, in document order."""
    if is_too_deep(raw_body):
        raise PayloadTooDeep(f"webhook JSON nests deeper than {MAX_DEPTH} levels", field="body")
    _require_utf8(raw_body)
    try:
        sound = read(raw_body, wire.SoundEnvelope)
    except msgspec.ValidationError:
        return _unit_by_unit(raw_body)  # an odd part somewhere: find it, read the rest
    except _BAD_JSON as exc:
        raise MalformedPayload(f"not a webhook envelope: {exc}", field="body") from exc
    if sound.object != WHATSAPP_OBJECT:
        return [_ignored_object(sound.object, raw_body)]
    return [
        event for index, entry in enumerate(sound.entry or ()) for event in _sound(index, entry)
    ]


def _require_utf8(raw_body: bytes) -> None:
    """Refuse a body that is not UTF-8 (JSON's one encoding) before decoding any of it.

    msgspec raises a bare ``UnicodeDecodeError`` for invalid UTF-8 inside a string, and only
    when it decodes that string: in an entry or change read lazily (``Raw``), that is after
    the envelope was accepted. Meta escapes every non-ASCII character, so the check is
    usually the ASCII test alone (found by the parser fuzz drill, docs/drills.md).
    """
    if raw_body.isascii():
        return
    try:
        raw_body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"the body is not UTF-8: {exc}", field="body") from None


def _sound(index: int, entry: wire.SoundEntry) -> Iterator[WebhookEvent]:
    """Yield the events of an entry read in the one-pass decode (all its changes sound)."""
    for position, change in enumerate(entry.changes or ()):
        where = f"$.entry[{index}].changes[{position}]"
        yield from _value_events(
            ChangeSource(str(entry.id), entry.time, change.field, change.value, where)
        )


def _unit_by_unit(raw_body: bytes) -> list[WebhookEvent]:
    """Decode the envelope, then each entry and change on its own (the same types)."""
    envelope = _envelope(raw_body, wire.Envelope)
    if envelope.object != WHATSAPP_OBJECT:
        return [_ignored_object(envelope.object, raw_body)]
    entries = [] if envelope.entry == wire.NULL else _envelope(envelope.entry, list[Raw])
    return [event for index, raw in enumerate(entries) for event in _entry_events(index, raw)]


def _envelope(raw: bytes | Raw, type_: type[_T]) -> _T:
    """Decode the envelope layer, turning every failure into MalformedPayload."""
    try:
        return read(raw, type_)
    except _BAD_JSON as exc:
        raise MalformedPayload(f"not a webhook envelope: {exc}", field="body") from exc


def _entry_events(index: int, raw: Raw) -> Iterator[WebhookEvent]:
    """Yield the events of every change of one entry, or the one event of an odd entry."""
    path = f"$.entry[{index}]"
    try:
        entry = read(raw, wire.Entry)
    except msgspec.ValidationError as problem:
        yield unreadable_entry(raw, str(problem), path)
        return
    for position, change in enumerate(entry.changes or ()):
        yield from _change_events(entry, change, f"{path}.changes[{position}]")


def _change_events(entry: wire.Entry, raw: Raw, path: str) -> Iterable[WebhookEvent]:
    """Read one change, then its value on its field; an odd change is one UnreadableItem."""
    waba_id = str(entry.id)
    try:
        change = read(raw, wire.Change)
    except msgspec.ValidationError as problem:
        source = ChangeSource(waba_id, entry.time, _field_of(raw), raw, path)
        return [unreadable(source, "change", raw, str(problem))]
    return _value_events(ChangeSource(waba_id, entry.time, change.field, change.value, path))


def _field_of(raw: Raw) -> str:
    """The ``field`` an unreadable change names, if any: the operator reads it in logs."""
    try:
        decoded = read(raw, _FieldOnly)
    except msgspec.ValidationError:  # not an object, or "field" not a string
        return ""
    return decoded.field if isinstance(decoded.field, str) else ""


class _FieldOnly(msgspec.Struct):
    """A change read for its ``field`` alone: its other values are never decoded (an untyped
    decode raised on a number out of range such as 1e400 anywhere in it: atheris)."""

    field: str | None = None


def _value_events(source: ChangeSource) -> Iterable[WebhookEvent]:
    """Dispatch one change on its field; an unreadable value becomes one UnreadableItem."""
    handler = _HANDLERS.get(source.field)
    if handler is None:
        handler = _account_events if source.field in ACCOUNT_FIELDS else _ignored_field
    try:
        return list(handler(source))
    except ITEM_ERRORS as problem:
        return [unreadable(source, "change", source.value, str(problem))]


def _messages_events(source: ChangeSource) -> Iterator[WebhookEvent]:
    """Yield the messages, statuses, preferences and errors of a messages-like change."""
    value = read(source.value, wire.ChangeValue)
    book = ContactBook.from_raw(value.contacts or [])
    yield from message_events(source, value.metadata, book, value.messages or [])
    yield from status_events(source, value.metadata, value.statuses or [])
    yield from preference_events(source, value.metadata, book, value.user_preferences or [])
    for index, raw in enumerate(value.errors or ()):
        yield _platform_error(source, value.metadata, raw, index)


def _platform_error(
    source: ChangeSource, metadata: wire.Metadata, raw: Raw, index: int
) -> WebhookEvent:
    """Convert one out-of-band ``value.errors[]`` item."""
    try:
        error = read(raw, wire.Error)
    except msgspec.ValidationError as problem:
        return unreadable(source, "error", raw, str(problem), source.item_path("errors", index))
    return PlatformErrorReport(
        dedupe_key=source.key(raw, prefix=f"{source.field}:error"),
        waba_id=source.waba_id,
        phone_number_id=metadata.phone_number_id,
        error=error_detail(error),
    )


def _account_events(source: ChangeSource) -> Iterator[WebhookEvent]:
    """Yield the one generic AccountEvent of an account-level field."""
    yield account_event(source)


def _ignored_field(source: ChangeSource) -> Iterator[WebhookEvent]:
    """Yield the IgnoredChange of a field we do not handle."""
    yield IgnoredChange(
        dedupe_key=source.key(prefix=f"ignored:{source.field}"),
        waba_id=source.waba_id,
        object=WHATSAPP_OBJECT,
        field=source.field,
    )


def _ignored_object(object_: str, raw_body: bytes) -> IgnoredChange:
    """Build the one IgnoredChange of a body for another product (page, instagram...)."""
    digest = hashlib.sha256(raw_body).hexdigest()[:32]
    return IgnoredChange(
        dedupe_key=f"ignored:{object_}:{digest}", waba_id="", object=object_, field=None
    )


_HANDLERS: dict[str, Callable[[ChangeSource], Iterable[WebhookEvent]]] = {
    "messages": _messages_events,
    "user_preferences": _messages_events,
    "message_template_status_update": lambda source: [template_status_event(source)],
    "message_template_quality_update": lambda source: [template_quality_event(source)],
    "template_category_update": lambda source: [template_category_event(source)],
}
