"""The webhook parser fuzzed: atheris on raw bytes, hypothesis on Meta-shaped bodies.

Both hand every body to :func:`drills.parser_oracle.check_body` (only MalformedPayload, no
hang, deterministic, events that round-trip). Hypothesis also knows what a sound batch and a
batch with one catalogued break must yield (``ingest/strategies.py``), and checks that the
events are exactly those; its other bodies are damaged beyond the catalogue: any node
replaced by any JSON value, nested near the depth limit, or bytes cut, doubled and flipped.

The short forms run in ``make test`` (seconds); the ``drills`` ones in ``make drills``:
:data:`ATHERIS_SECONDS` + :data:`HYPOTHESIS_SECONDS`, over ten minutes in all. See
docs/drills.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drills.parser_oracle import check_body
from ingest.strategies import (
    Batch,
    Broken,
    Expected,
    batches,
    broken_batches,
    encode,
    expected_events,
    sample_batch,
    small_batch,
)
from ovenai.events import UnreadableItem, WebhookEvent
from ovenai.ingest.receive.depth_guard import MAX_DEPTH

ATHERIS_SECONDS = 330
HYPOTHESIS_SECONDS = 300
HANG_SECONDS = 5.0
"""One body parsed (twice) in longer than this is a hang: the largest a fuzzer makes parse
in milliseconds."""

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
FIXTURES = TESTS / "ingest" / "fixtures"
DICTIONARY = Path(__file__).with_name("webhook.dict")
DRILL_VAR = ROOT / "var" / "drills"

Json = Any
Shape = tuple[str, object]


# ------------------------------------------------------------------------------- atheris


def _seed(corpus: Path) -> None:
    """Put the recorded fixtures and the fixed batches in ``corpus`` (kept if there)."""
    corpus.mkdir(parents=True, exist_ok=True)
    for fixture in FIXTURES.glob("*.json"):
        shutil.copyfile(fixture, corpus / fixture.name)
    (corpus / "sample_batch.json").write_bytes(sample_batch().body)
    (corpus / "small_batch.json").write_bytes(small_batch().body)


def _run_atheris(seconds: int, corpus: Path, crashes: Path) -> str:
    """Fuzz for ``seconds``; fail with the crashing input if the oracle rejects one."""
    _seed(corpus)
    crashes.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "drills.webhook_fuzz_target",
        f"-max_total_time={seconds}",
        f"-timeout={int(HANG_SECONDS)}",
        f"-dict={DICTIONARY}",
        f"-artifact_prefix={crashes}/",
        "-max_len=16384",
        # libFuzzer reads the peak RSS the kernel reports, and a child started from a large
        # pytest process starts with the parent's peak (1.3 GB in CI): the limit catches a
        # runaway input, not the test run's own size.
        "-rss_limit_mb=8192",
        "-print_final_stats=1",
        str(corpus),
    ]
    environment = os.environ | {"PYTHONPATH": str(TESTS)}
    result = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=seconds + 120, check=False
    )
    found = sorted(crashes.glob("*"))
    detail = "\n".join(result.stderr.splitlines()[-40:])
    assert result.returncode == 0 and not found, (
        f"atheris found an input the parser mishandles: {[str(f) for f in found]}\n{detail}"
    )
    assert "Done " in result.stderr, detail
    return result.stderr


def _runs(log: str) -> int:
    """The number of inputs libFuzzer ran, from its final statistics."""
    line = next(x for x in log.splitlines() if x.startswith("stat::number_of_executed_units"))
    return int(line.split(":")[-1])


def test_atheris_finds_nothing_in_a_few_seconds(tmp_path: Path) -> None:
    log = _run_atheris(8, tmp_path / "corpus", tmp_path / "crashes")
    assert _runs(log) > 1_000


@pytest.mark.drills
def test_atheris_finds_nothing_in_five_minutes() -> None:
    log = _run_atheris(ATHERIS_SECONDS, DRILL_VAR / "webhook-corpus", DRILL_VAR / "crashes")
    print(f"atheris: {_runs(log)} inputs in {ATHERIS_SECONDS} s")  # noqa: T201


# ---------------------------------------------------------------------------- hypothesis


@dataclass(frozen=True)
class Case:
    """A body to parse and, for a sound or catalogued-broken batch, the events it must yield."""

    how: str
    body: bytes
    wanted: list[Shape] | None = None

    def check(self) -> None:
        with _no_hang(HANG_SECONDS):
            events = check_body(self.body)
        if self.wanted is not None:
            assert events is not None, f"{self.how}: a sound envelope was refused"
            assert _shape(events) == self.wanted, self.how


class ParserHung(AssertionError):
    """A body took longer than HANG_SECONDS to parse."""


@contextmanager
def _no_hang(seconds: float) -> Iterator[None]:
    def alarm(_signum: int, _frame: FrameType | None) -> None:
        raise ParserHung(f"the parser ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _shape(events: list[WebhookEvent]) -> list[Shape]:
    """Each event's kind with its dedupe key, or where it sits if it is unreadable."""
    return [
        (type(e).__name__, (e.path, e.item) if isinstance(e, UnreadableItem) else e.dedupe_key)
        for e in events
    ]


def _wanted(expected: list[Expected]) -> list[Shape]:
    return [(x.kind, (x.path, x.item) if x.kind == "UnreadableItem" else x.key) for x in expected]


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "0", "1767000000", "-1", "1e400", "99999999999999999999", "null"])
    | st.text(st.characters(exclude_categories=()), max_size=12)  # lone surrogates too
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6) | st.sampled_from(["id", "type", "from"]), inner)
    ),
    max_leaves=12,
)


def _nodes(doc: Json, where: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """The path of every value of a document, the document itself first."""
    yield where
    if isinstance(doc, dict):
        children: Iterable[tuple[str | int, Json]] = doc.items()
    else:
        children = enumerate(doc) if isinstance(doc, list) else ()
    for key, child in children:
        yield from _nodes(child, (*where, key))


def _replace(doc: Json, where: tuple[str | int, ...], value: Json) -> Json:
    """A copy of ``doc`` with the value at ``where`` replaced."""
    if not where:
        return value
    head, rest = where[0], where[1:]
    if isinstance(doc, dict):
        return {**doc, head: _replace(doc[head], rest, value)}
    copy = list(doc)
    copy[int(head)] = _replace(doc[int(head)], rest, value)
    return copy


def _at(doc: Json, where: tuple[str | int, ...]) -> Json:
    for step in where:
        doc = doc[step]
    return doc


@st.composite
def _replaced(draw: st.DrawFn) -> Case:
    """A batch with any one node replaced by any JSON value."""
    doc = draw(batches()).doc
    where = draw(st.sampled_from(list(_nodes(doc))))
    return Case(f"replaced {where}", encode(_replace(doc, where, draw(VALUES))))


@st.composite
def _nested(draw: st.DrawFn) -> Case:
    """A batch with one node wrapped in arrays or objects to about the depth limit."""
    doc = draw(batches()).doc
    where = draw(st.sampled_from(list(_nodes(doc))))
    value = _at(doc, where)
    for _ in range(draw(st.integers(MAX_DEPTH - len(where) - 3, MAX_DEPTH - len(where) + 3))):
        value = draw(st.sampled_from([[value], {"x": value}]))
    return Case(f"nested {where}", encode(_replace(doc, where, value)))


@st.composite
def _cut(draw: st.DrawFn) -> Case:
    """A batch's bytes with a few cuts, copies, insertions and flipped bytes."""
    body = bytearray(draw(batches()).body)
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(body)))
        end = draw(st.integers(start, min(len(body), start + 64)))
        how = draw(st.sampled_from(["cut", "copy", "insert", "flip"]))
        if how == "cut":
            del body[start:end]
        elif how == "copy":
            body[start:start] = body[start:end]
        elif how == "insert":
            body[start:start] = draw(st.binary(min_size=1, max_size=8))
        elif start < len(body):
            body[start] ^= draw(st.integers(1, 255))
    return Case("bytes damaged", bytes(body))


@st.composite
def _sound(draw: st.DrawFn) -> Case:
    batch: Batch = draw(batches())
    return Case("sound", batch.body, _wanted(expected_events(batch.doc)))


@st.composite
def _broken(draw: st.DrawFn) -> Case:
    broken: Broken = draw(broken_batches())
    how = f"{broken.part.path}: {broken.damage.label}"
    return Case(how, broken.body, _wanted(broken.expected()))


@st.composite
def _any_json(draw: st.DrawFn) -> Case:
    """An envelope around any value, or any value at all."""
    value = draw(VALUES)
    if draw(st.booleans()):
        value = {"object": "whatsapp_business_account", "entry": value}
    return Case("any JSON", json.dumps(value).encode())


CASES = st.one_of(_sound(), _broken(), _replaced(), _nested(), _cut(), _any_json())


def _fuzz(examples: int) -> Callable[[], None]:
    """A hypothesis run of ``examples`` cases, each a fresh random draw."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(CASES)
    def run(case: Case) -> None:
        case.check()

    return run


def test_hypothesis_finds_nothing_in_a_few_hundred_bodies() -> None:
    _fuzz(300)()


@pytest.mark.drills
def test_hypothesis_finds_nothing_in_five_minutes() -> None:
    deadline, rounds = time.monotonic() + HYPOTHESIS_SECONDS, 0
    while time.monotonic() < deadline:
        _fuzz(1_000)()
        rounds += 1
    print(f"hypothesis: {rounds * 1_000} bodies in {HYPOTHESIS_SECONDS} s")  # noqa: T201


def test_the_hang_guard_fails_a_slow_parse() -> None:
    with pytest.raises(ParserHung), _no_hang(0.05):
        time.sleep(1)
