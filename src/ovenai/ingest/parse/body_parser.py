"""Decode a verified webhook body into typed events (Meta: Cloud API › Webhooks › Reference).

:func:`parse_webhook` flattens EVERY entry, change, message, status, preference and
out-of-band error of a batch, in document order (entry, then change, then within a
``messages`` change: messages, statuses, preferences, errors). Only non-JSON, nesting
deeper than :data:`~ovenai.ingest.receive.depth_guard.MAX_DEPTH`, or a body that is not an
``{"object", "entry": [{"changes": [{"field", "value"}]}]}`` envelope raises
(:class:`MalformedPayload`); an odd item becomes an :class:`UnsupportedContent` message or
an :class:`UnreadableItem`, and an unknown object or field an :class:`IgnoredChange`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import msgspec

from ovenai.events import IgnoredChange, PlatformErrorReport, WebhookEvent
from ovenai.ingest.errors import MalformedPayload, PayloadTooDeep
from ovenai.ingest.parse import change_structs as wire
from ovenai.ingest.parse.account_parser import (
    account_event,
    template_category_event,
    template_quality_event,
    template_status_event,
)
from ovenai.ingest.parse.change_source import ITEM_ERRORS, ChangeSource, error_detail, unreadable
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
    }
)

_BAD_JSON = (msgspec.DecodeError, RecursionError)
_T = TypeVar("_T")


def parse_webhook(raw_body: bytes) -> list[WebhookEvent]:
    """Decode a verified webhook body into its events, in document order."""
    if is_too_deep(raw_body):
        raise PayloadTooDeep(f"webhook JSON nests deeper than {MAX_DEPTH} levels", field="body")
    envelope = _strict(raw_body, wire.Envelope)
    if envelope.object != WHATSAPP_OBJECT:
        return [_ignored_object(envelope.object, raw_body)]
    entries = _strict(envelope.entry, list[wire.Entry])
    return [event for entry in entries for event in _entry_events(entry)]


def _strict(raw: bytes | msgspec.Raw, type_: type[_T]) -> _T:
    """Decode the envelope layer, turning every failure into MalformedPayload."""
    try:
        return msgspec.json.decode(raw, type=type_)
    except _BAD_JSON as exc:
        raise MalformedPayload(f"not a webhook envelope: {exc}", field="body") from exc


def _entry_events(entry: wire.Entry) -> Iterator[WebhookEvent]:
    """Yield the events of every change of one entry."""
    waba_id = str(entry.id)
    for change in entry.changes:
        source = ChangeSource(waba_id, entry.time, change.field, change.value)
        yield from _change_events(source)


def _change_events(source: ChangeSource) -> Iterable[WebhookEvent]:
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
    value = msgspec.json.decode(source.value, type=wire.ChangeValue)
    book = ContactBook.from_raw(value.contacts)
    yield from message_events(source, value.metadata, book, value.messages)
    yield from status_events(source, value.metadata, value.statuses)
    yield from preference_events(source, value.metadata, book, value.user_preferences)
    for raw in value.errors:
        yield _platform_error(source, value.metadata, raw)


def _platform_error(
    source: ChangeSource, metadata: wire.Metadata, raw: msgspec.Raw
) -> WebhookEvent:
    """Convert one out-of-band ``value.errors[]`` item."""
    try:
        error = msgspec.json.decode(raw, type=wire.Error)
    except msgspec.ValidationError as problem:
        return unreadable(source, "error", raw, str(problem))
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
