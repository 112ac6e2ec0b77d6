"""`ovenai templates list|sync|export|import|submit` against a real database and simulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

from ovenai.simulator import SimulatorThread
from support.simulator import fresh_simulator, reset_before_each_test  # noqa: F401  (fixtures)
from support.simulator_http import post_control

PRODUCTION_WABA = "310000000000999"
Run = Callable[..., Result]


def _ok(result: Result) -> list[str]:
    assert result.exit_code == 0, (result.stderr, result.exception)
    return result.stdout.splitlines()


def test_the_migration_runs_from_the_command_line(
    ovenai: Run, simulator: SimulatorThread, tmp_path: Path
) -> None:
    file = tmp_path / "templates.json"
    synced = _ok(ovenai("templates", "sync"))
    assert synced == [
        "synced 8 templates of WABA 310000000000001: 8 added, 0 updated, 0 unchanged, 0 gone"
    ]
    assert _ok(ovenai("templates", "export", str(file))) == [
        f"exported 8 templates of WABA 310000000000001 to {file}"
    ]
    imported = _ok(ovenai("templates", "import", str(file), "--waba-id", PRODUCTION_WABA))
    assert (
        imported[0]
        == f"submitted 8, skipped 0 (already there), refused 0 to WABA {PRODUCTION_WABA}"
    )
    post_control(simulator.base_url, "templates/review", {"waba_id": PRODUCTION_WABA})
    _ok(ovenai("templates", "sync", "--waba-id", PRODUCTION_WABA))
    listed = _ok(ovenai("templates", "list", "--waba-id", PRODUCTION_WABA))
    assert listed[0].split() == [
        "family",
        "name",
        "language",
        "category",
        "status",
        "quality",
        "waba",
    ]
    assert len(listed) == 9
    assert listed[1].split() == [
        "document_request",
        "document_request_he",
        "he",
        "UTILITY",
        "APPROVED",
        "UNKNOWN",  # Meta rates a newly approved template later
        PRODUCTION_WABA,
    ]


def test_submit_records_the_template_pending(ovenai: Run) -> None:
    result = ovenai(
        "templates",
        "submit",
        "visit_confirmed_he",
        "--language",
        "he",
        "--category",
        "utility",
        "--body",
        "שלום {{1}}, הפגישה שלך ב{{2}} אושרה. נתראה שם!",
        "--example",
        "דנה",
        "--example",
        "10:00",
    )
    assert _ok(result) == ["submitted visit_confirmed_he (he) to WABA 310000000000001: PENDING"]
    listed = _ok(ovenai("templates", "list"))
    assert any(
        line.split()[1:5] == ["visit_confirmed_he", "he", "UTILITY", "PENDING"] for line in listed
    )


def test_errors_are_one_line(ovenai: Run) -> None:
    missing = ovenai(
        "templates",
        "submit",
        "x_he",
        "--language",
        "he",
        "--category",
        "utility",
        "--body",
        "hi {{1}}",
    )
    assert missing.exit_code == 65
    assert missing.stderr.strip().splitlines() == [
        "error: the body has 1 placeholders; give as many examples, not 0"
    ]
    no_token = ovenai("templates", "sync", WHATSAPP_ACCESS_TOKEN=None)
    assert no_token.exit_code == 78
    assert no_token.stderr.strip().splitlines() == ["error: WHATSAPP_ACCESS_TOKEN is not set"]


def test_the_english_drafts_of_the_hebrew_only_families_can_be_submitted(
    ovenai: Run, simulator: SimulatorThread
) -> None:
    drafts = Path(__file__).parents[2] / "src" / "ovenai" / "data" / "english_drafts.json"
    imported = _ok(ovenai("templates", "import", str(drafts)))
    assert (
        imported[0] == "submitted 2, skipped 0 (already there), refused 0 to WABA 310000000000001"
    )
    post_control(simulator.base_url, "templates/review", {"waba_id": "310000000000001"})
    _ok(ovenai("templates", "sync"))
    listed = {tuple(line.split()[1:5]) for line in _ok(ovenai("templates", "list"))[1:]}
    assert {
        ("followup_interest_en", "en", "MARKETING", "APPROVED"),
        ("document_request_en", "en", "UTILITY", "APPROVED"),
    } <= listed
