"""Property: in any batch, one part broken in any way the schema allows yields ONE
UnreadableItem at its path (or, if the break is harmless, is read as usual), and every
other item yields exactly the event it yields in the sound batch, with its usual key."""

from __future__ import annotations

from hypothesis import given, settings

from ingest.strategies import (
    Batch,
    Broken,
    Expected,
    Outcome,
    batches,
    broken_batches,
    every_damage,
    expected_events,
    sample_batch,
)
from ovenai.events import UnreadableItem, WebhookEvent
from ovenai.ingest.parse.body_parser import parse_webhook

Shape = tuple[str, object]


def _shape(events: list[WebhookEvent]) -> list[Shape]:
    """Each event's kind with its dedupe key, or where it sits if it is unreadable."""
    return [
        (type(e).__name__, (e.path, e.item) if isinstance(e, UnreadableItem) else e.dedupe_key)
        for e in events
    ]


def _wanted(expected: list[Expected]) -> list[Shape]:
    return [(x.kind, (x.path, x.item) if x.kind == "UnreadableItem" else x.key) for x in expected]


def _events_by_path(batch: Batch) -> dict[str, WebhookEvent]:
    events = parse_webhook(batch.body)
    return {x.path: event for x, event in zip(expected_events(batch.doc), events, strict=True)}


def _assert_fails_alone(broken: Broken, sound: dict[str, WebhookEvent]) -> None:
    """The broken part yields what its outcome says; every other item what it yields sound."""
    what = f"{broken.part.path}: {broken.damage.label} ({broken.outcome.value})"
    events = parse_webhook(broken.body)
    assert _shape(events) == _wanted(broken.expected()), what
    for x, event in zip(broken.expected(), events, strict=True):
        if broken.outcome is Outcome.SAME or not broken.part.holds(x.path):
            assert event == sound[x.path], what
        if isinstance(event, UnreadableItem):
            assert event.problem and event.raw_json, what


@settings(max_examples=200)
@given(batches())
def test_every_item_of_a_sound_batch_yields_one_event_with_its_usual_key(batch: Batch) -> None:
    assert _shape(parse_webhook(batch.body)) == _wanted(expected_events(batch.doc))


@settings(max_examples=400)
@given(broken_batches())
def test_one_broken_part_of_any_batch_fails_alone(broken: Broken) -> None:
    _assert_fails_alone(broken, _events_by_path(broken.sound))


def test_every_catalogued_break_of_every_kind_of_part_fails_that_part_alone() -> None:
    sound = sample_batch()
    events = _events_by_path(sound)
    cases = list(every_damage(sound))
    assert {case.outcome for case in cases} == set(Outcome)
    for broken in cases:
        _assert_fails_alone(broken, events)
