"""A conversation as bubbles: ticks by status, a reply's quote found in the conversation (or
said to be missing), media named by kind with their caption, templates as the lead read
them, failures with their advice."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ovenai.bubbles import QUOTE_LENGTH, Tick, bubbles_of
from ovenai.conversations import MessageError, MessageRecord
from ovenai.failure_advice import AdviceKind

AT = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _message(number: int, **fields: object) -> MessageRecord:
    base = MessageRecord(
        id=f"m{number}",
        lead_id="lead",
        direction="inbound",
        type="text",
        text=f"message {number}",
        template=None,
        template_language=None,
        template_params=None,
        wa_message_id=f"wamid.{number}",
        context_wa_message_id=None,
        status="received",
        status_at=AT,
        status_history=[],
        error=None,
        created_at=AT + timedelta(minutes=number),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_outbound_ticks_follow_the_status_and_inbound_has_none() -> None:
    statuses = ["queued", "sending", "sent", "delivered", "read", "failed"]
    messages = [
        _message(i, direction="outbound", status=status) for i, status in enumerate(statuses)
    ]
    shown = bubbles_of([_message(9), *messages])
    assert shown[0].tick is None
    assert [b.tick for b in shown[1:]] == [
        Tick.CLOCK,
        Tick.CLOCK,
        Tick.SENT,
        Tick.DELIVERED,
        Tick.READ,
        Tick.FAILED,
    ]


def test_a_reply_quotes_the_message_it_answers() -> None:
    long_text = "א" * (QUOTE_LENGTH + 30)
    ours = _message(1, direction="outbound", status="read", text=long_text)
    reply = _message(2, text="כן, מתאים לי", context_wa_message_id="wamid.1")
    stray = _message(3, text="?", context_wa_message_id="wamid.elsewhere")
    _ours, answered, lost = bubbles_of([ours, reply, stray])
    assert answered.quote is not None and answered.quote.found
    assert answered.quote.direction == "outbound"
    assert answered.quote.body is not None and len(answered.quote.body) == QUOTE_LENGTH
    assert answered.quote.body.endswith("…")
    assert lost.quote is not None and not lost.quote.found
    assert bubbles_of([ours])[0].quote is None


def test_media_are_named_by_kind_with_their_caption_and_templates_read_as_sent() -> None:
    photo = _message(1, type="image", text="הסלון מהחלון")
    voice = _message(2, type="audio", text="[voice message]")
    template = _message(
        3, direction="outbound", type="template", template="welcome_he", text="שלום נועה"
    )
    unrendered = _message(4, direction="outbound", type="template", template="x_he", text=None)
    a, b, c, d = bubbles_of([photo, voice, template, unrendered])
    assert (a.kind, a.body) == ("image", "הסלון מהחלון")
    assert (b.kind, b.body) == ("audio", None)
    assert (c.kind, c.body) == (None, "שלום נועה")
    assert (d.kind, d.body) == ("template", "x_he")
    answer = _message(5, text="כן", context_wa_message_id="wamid.4")
    quote = bubbles_of([unrendered, answer])[1].quote
    assert quote is not None and (quote.body, quote.type) == (None, "template")  # not its name


def test_a_failure_carries_its_advice() -> None:
    error = MessageError(131026, "Message undeliverable", None)
    failed = _message(1, direction="outbound", status="failed", error=error)
    (bubble,) = bubbles_of([failed])
    assert bubble.failure is not None
    assert bubble.failure.kind is AdviceKind.UNDELIVERABLE
    assert bubble.failure.title == "Message undeliverable"
    assert bubbles_of([_message(2, direction="outbound", status="sent")])[0].failure is None
