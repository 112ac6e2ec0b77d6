"""`ovenai intents classify|evaluate` as an operator runs them: a real process, no database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ovenai import intents

OVENAI = str(Path(sys.executable).with_name("ovenai"))
HELDOUT = Path(__file__).parents[1] / "fixtures" / "intents" / "heldout.jsonl"
OURS = ("OVENAI_", "WHATSAPP_", "DATABASE_URL", "REDIS_URL")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `ovenai ARGS` as a process of its own, with no OvenAI setting in its environment."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    return subprocess.run(
        [OVENAI, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environment | {"PYTHONIOENCODING": "utf-8"},
        timeout=60,
        check=False,
    )


def _rows(stdout: str) -> dict[str, list[str]]:
    """The per-intent table: intent -> [precision, recall, support, given]."""
    lines = stdout.splitlines()
    assert lines[0].split() == ["intent", "precision", "recall", "support", "given"]
    rows = lines[1 : 1 + len(intents.Intent)]
    return {line.split()[0]: line.split()[1:] for line in rows}


def test_classify_prints_the_intent_and_why() -> None:
    result = run("intents", "classify", "אל תסירו אותי")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "other (confidence 0.60)",
        'why: opt_out: "תסירו אותי" (remove me / my number from the list), '
        'ignored: negated by "אל"',
    ]
    viewing = run("intents", "classify", "stop by tomorrow", "--language", "en")
    assert viewing.stdout.splitlines()[0].startswith("wants_viewing (confidence ")


def test_evaluate_prints_the_figures_of_the_bundled_set() -> None:
    result = run("intents", "evaluate")
    assert result.returncode == 0, result.stderr
    measured = intents.evaluate(intents.load_samples(), intents.default_classifier())
    rows = _rows(result.stdout)
    assert list(rows) == [str(intent) for intent in intents.Intent]
    for figures in measured.per_intent:
        precision, recall, support, given = rows[figures.intent]
        assert precision == f"{figures.precision:.2f}" and recall == f"{figures.recall:.2f}"
        assert (int(support), int(given)) == (figures.support, figures.predicted)
    opt_out = measured.figures(intents.Intent.OPT_OUT)
    assert (
        f"opt-out: {opt_out.support} labelled, {opt_out.predicted} given, 0 false, 0 missed"
        in result.stdout
    )
    assert f"accuracy {measured.accuracy:.2f} ({measured.correct} of {measured.total})" in (
        result.stdout
    )


def test_evaluate_lists_every_false_and_missed_opt_out(tmp_path: Path) -> None:
    samples = tmp_path / "mine.jsonl"
    rows = [
        {"text": "STOP", "intent": "other", "language": "en"},  # labelled wrong on purpose
        {"text": "אל תסירו אותי", "intent": "opt_out", "language": "he"},  # ditto
        {"text": "כמה זה עולה?", "intent": "asks_price", "language": "he"},
    ]
    samples.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    result = run("intents", "evaluate", str(samples), "--mistakes")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "opt-out: 1 labelled, 1 given, 1 false, 1 missed" in out
    assert "  false opt-outs were labelled: other 1" in out
    assert "  missed opt-outs were given: other 1" in out
    assert '  FALSE OPT-OUT [labelled other, given opt_out] "STOP"' in out
    assert '  missed opt-out [labelled opt_out, given other] "אל תסירו אותי"' in out
    assert "other mistakes: 0" in out


def test_evaluate_measures_the_heldout_set() -> None:
    result = run("intents", "evaluate", str(HELDOUT))
    assert result.returncode == 0, result.stderr
    precision = _rows(result.stdout)["opt_out"][0]
    assert float(precision) >= 0.95


def test_a_bad_file_is_one_line_and_the_input_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hi", "intent": "other"}\n{"text": "hi", "intent": "?"}\n', "utf-8")
    result = run("intents", "evaluate", str(bad))
    assert result.returncode == 65
    assert result.stderr.startswith(f"error: {bad} line 2: intent '?' is not one of")
    assert len(result.stderr.splitlines()) == 1
    missing = run("intents", "evaluate", str(tmp_path / "nowhere.jsonl"))
    assert missing.returncode == 65 and missing.stderr.startswith("error: cannot read ")
