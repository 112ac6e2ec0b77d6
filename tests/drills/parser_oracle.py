"""What the webhook parser must do with ANY bytes: the oracle of the parser fuzz drills.

Both fuzzers (atheris on raw bytes, :mod:`drills.webhook_fuzz_target`; hypothesis on
Meta-shaped bodies, ``test_webhook_parser_fuzz.py``) hand every body they make to
:func:`check_body`, which fails (an ``AssertionError``, or the unexpected exception itself)
unless:

- ``parse_webhook`` returns a list of events or raises :class:`MalformedPayload` (its
  :class:`PayloadTooDeep` included): the only errors the processor keeps as a body's
  permanent failure (``ovenai.ingest.processor.PERMANENT``); anything else would be retried
  five times and then recorded as an unexplained crash;
- the receiving checks (``intake.check_body``, run on a correctly signed copy) raise only
  their documented refusals (:class:`MalformedPayload`, :class:`PayloadTooDeep`);
- it is deterministic: parsing the same bytes again gives equal events;
- an accepted body's events round-trip through JSON as ``list[WebhookEvent]`` (as
  ``tests/ingest/parse/test_parse.py`` expects for storage), each with a dedupe key;
- an :class:`UnreadableItem` names a path in the body and a problem.

Hangs are caught by the fuzzers themselves (libFuzzer's ``-timeout``; a wall-clock alarm
around each example in the hypothesis drill).
"""

from __future__ import annotations

import msgspec

from ovenai.events import UnreadableItem, WebhookEvent
from ovenai.ingest.errors import MalformedPayload
from ovenai.ingest.parse.body_parser import parse_webhook
from ovenai.ingest.receive.intake import check_body as check_on_receipt
from ovenai.ingest.receive.signature import sign

APP_SECRET = "fuzz-app-secret"
_EVENTS = msgspec.json.Decoder(list[WebhookEvent])


def check_body(raw: bytes) -> list[WebhookEvent] | None:
    """Check one body against the oracle; return its events (None when refused)."""
    _check_receipt(raw)
    try:
        events = parse_webhook(raw)
    except MalformedPayload as refused:
        assert refused.http_status == 422 and refused.field == "body", refused
        return None
    assert isinstance(events, list)
    assert parse_webhook(raw) == events, "parsing the same bytes twice differs"
    assert _EVENTS.decode(msgspec.json.encode(events)) == events, "events do not round-trip"
    for event in events:
        assert event.dedupe_key, event
        if isinstance(event, UnreadableItem):
            assert event.path.startswith("$") and event.problem, event
    return events


def _check_receipt(raw: bytes) -> None:
    """The receiving checks accept a signed body or refuse it with a documented error."""
    try:
        check_on_receipt(raw, sign(raw, APP_SECRET), APP_SECRET)
    except MalformedPayload:
        pass
