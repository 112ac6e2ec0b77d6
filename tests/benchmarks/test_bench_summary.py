"""`make bench`'s summary: figures read from the steps' output, targets judged, the table."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from bench import __main__ as bench_main
from bench.peer import report
from bench.peer.receive import peer_body
from bench.webhooks.common import status_body


def test_headline_lines_are_read_back(capsys: pytest.CaptureFixture[str]) -> None:
    report.figure("webhook ack, OvenAI / reference, SQLite", 81.234, "%", target=">= 75")
    out = "noise\n" + capsys.readouterr().out + "more noise\n"
    assert report.read_figures(out) == [
        report.Figure("webhook ack, OvenAI / reference, SQLite", 81.23, "%", ">= 75")
    ]


@pytest.mark.parametrize(
    ("target", "value", "verdict"),
    [(">= 75", 75.0, "yes"), (">= 5,000", 4999.0, "**no**"), ("= 0", 0.0, "yes"),
     ("950-1000", 971.0, "yes"), ("950-1000", 1001.0, "**no**"), ("", 3.0, "")],
)  # fmt: skip
def test_targets_are_judged(target: str, value: float, verdict: str) -> None:
    assert bench_main.met(report.Figure("f", value, "/s", target)) == verdict


def test_prose_steps_are_read() -> None:
    applied = bench_main.applied("status events applied/s=5,432 (3000 events in 0.55 s)")
    assert applied[0].value == 5432.0
    result = {"workers": 2, "messages": 100, "sent": 99, "sent_twice": 1, "sustained_per_s": 970}
    sends, lost = bench_main.outbound("PostgreSQL", 1000)("queued 100\n" + json.dumps(result))
    assert (sends.value, sends.target, lost.value) == (970.0, "950-1000", 2.0)
    media = "  stored 39 of 40 (others: none)\n  webhook -> stored: p50 1,215 ms p90 2 ms"
    assert [f.value for f in bench_main.media(media)] == [97.5, 1215.0]


def test_a_failed_step_is_a_row_of_the_table() -> None:
    step = bench_main.Step(["-m", "bench.x", "--db", "sqlite"], failure="exit 1", box_s=0.5)
    step.figures = [report.Figure("sends/s", 1234.5, "/s", ">= 1000")]
    started = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=datetime.UTC)
    text = bench_main.table([step], started, quick=False, load="1.00")
    assert "| sends/s | >= 1000 /s | 1,234 /s | yes | 0.5 |" in text
    assert "| bench.x --db sqlite | | FAILED: exit 1 | **no** | 0.5 |" in text


def test_results_are_numbered_within_a_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_main, "RESULTS", tmp_path)
    day = datetime.date(2026, 12, 7)
    assert bench_main.result_path(day, quick=False).name == "2026-12-07.md"
    (tmp_path / "2026-12-07.md").write_text("")
    assert bench_main.result_path(day, quick=False).name == "2026-12-07-2.md"
    assert bench_main.result_path(day, quick=True).name == "2026-12-07-quick.md.tmp"


def test_the_peer_gets_the_bench_status_with_its_contacts() -> None:
    ours = json.loads(status_body(7, ts=1767000067))
    theirs = json.loads(peer_body(7))
    value = theirs["entry"][0]["changes"][0]["value"]
    assert value.pop("contacts") == [{"user_id": "IL.5550001112223334445", "wa_id": "972521234567"}]
    assert theirs == ours
