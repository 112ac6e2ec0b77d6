"""Delivery statuses become StatusUpdate events with pricing, errors and recipient."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ovenai.events import StatusUpdate, UnreadableItem, WebhookEvent
from ovenai.events.enums import DeliveryStatus
from ovenai.ingest.parse.body_parser import parse_webhook

Events = Callable[[str], list[WebhookEvent]]


def _only_status(events: list[WebhookEvent]) -> StatusUpdate:
    (event,) = events
    assert isinstance(event, StatusUpdate)
    return event


def _statuses_body(*statuses: str) -> bytes:
    value = b'{"metadata":{"phone_number_id":"1"},"statuses":[%s]}' % ",".join(statuses).encode()
    change = b'{"field":"messages","value":%s}' % value
    return b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[%s]}]}' % change


def test_it_reads_a_sent_status_with_pricing_and_conversation(events_of: Events) -> None:
    status = _only_status(events_of("status_sent.json"))
    assert status.status is DeliveryStatus.SENT
    assert status.timestamp == datetime(2025, 12, 29, 9, 21, tzinfo=UTC)
    assert (status.recipient_id, status.recipient_user_id) == (
        "972521234567",
        "IL.5550001112223334445",
    )
    assert status.biz_opaque_callback_data == "lead=4711;campaign=oct-open-house"
    assert status.pricing is not None and status.pricing.category == "marketing"
    assert status.pricing.pricing_model == "PMP" and status.pricing.type == "regular"
    assert status.conversation is not None and status.conversation.origin_type == "marketing"
    assert status.conversation.expires_at == datetime(2025, 12, 30, 9, 21, tzinfo=UTC)


def test_it_reads_delivered_and_read(events_of: Events) -> None:
    assert _only_status(events_of("status_delivered.json")).status is DeliveryStatus.DELIVERED
    read = _only_status(events_of("status_read.json"))
    assert read.status is DeliveryStatus.READ and read.pricing is None


def test_it_keeps_metas_error_on_a_failed_status(events_of: Events) -> None:
    status = _only_status(events_of("status_failed_131026.json"))
    assert status.status is DeliveryStatus.FAILED
    (error,) = status.errors
    assert (error.code, error.title, error.details) == (
        131026,
        "Message undeliverable",
        "Message Undeliverable.",
    )
    assert error.href == "/documentation/business-messaging/whatsapp/support/error-codes"


def test_it_accepts_error_data_given_as_a_string() -> None:
    body = _statuses_body(
        '{"id":"wamid.A","status":"failed","timestamp":"1767000000",'
        '"errors":[{"code":131000,"title":"x","error_data":"plain text details"}]}'
    )
    assert _only_status(parse_webhook(body)).errors[0].details == "plain text details"


def test_it_tolerates_a_status_value_meta_adds_later() -> None:
    body = _statuses_body('{"id":"wamid.A","status":"deferred","timestamp":1767000000}')
    status = _only_status(parse_webhook(body))
    assert (status.status, status.status_raw) == (DeliveryStatus.UNKNOWN, "deferred")


def test_it_keeps_a_status_whose_pricing_changed_shape() -> None:
    body = _statuses_body(
        '{"id":"wamid.A","status":"read","timestamp":"1767000000","pricing":"free"}'
    )
    status = _only_status(parse_webhook(body))
    assert (status.status, status.pricing) == (DeliveryStatus.READ, None)


def test_it_keeps_a_status_without_an_id_as_unreadable_and_reads_the_next() -> None:
    body = _statuses_body(
        '{"status":"read","timestamp":"1767000000"}',
        '{"id":"wamid.B","status":"read","timestamp":"1767000000"}',
    )
    unreadable, status = parse_webhook(body)
    assert isinstance(unreadable, UnreadableItem) and unreadable.item == "status"
    assert isinstance(status, StatusUpdate) and status.message_id == "wamid.B"
