"""`ovenai leads import` as an operator runs it: a real process; --dry-run, --overwrite, a line
per row that is not plainly new, a progress bar on a terminal only, no phone in the output."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from ovenai.settings import Settings

OVENAI = str(Path(sys.executable).with_name("ovenai"))
AGENCY = Path(__file__).parent / "fixtures" / "imports" / "agency_windows1255_semicolon.csv"
PORTAL = Path(__file__).parent / "fixtures" / "imports" / "portal_utf8_bom.csv"


def environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "OVENAI_KEYSTORE_URL": str(settings.keystore_url),
        "OVENAI_ENCRYPTION_KEYS": settings.secret("encryption_keys"),
        "OVENAI_SECRET_KEY": settings.secret("secret_key"),
    }


def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OVENAI, "leads", "import", *args],
        capture_output=True,
        text=True,
        env=environment(settings),
        timeout=120,
        check=False,
    )


def test_a_dry_run_prints_every_row_and_writes_nothing(clean_db: Settings) -> None:
    dry = run(clean_db, str(AGENCY), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0] == (
        "would import 6, would update 0, unchanged 0, rejected 4; dry run: nothing written"
    )
    assert lines[1] == "  read as CSV, Windows-1255, semicolon"
    assert "  row 2: new" in lines
    assert "  row 7: rejected: column 'טלפון' (phone): not a valid phone number" in dry.stdout
    assert "  row 10: new; unknown source 'ערוץ 2' kept as import" in lines
    assert "importing" not in dry.stderr  # no progress bar without a terminal

    real = run(clean_db, str(AGENCY))
    assert real.stdout.splitlines()[0] == "imported 6, updated 0, unchanged 0, rejected 4"
    assert "row 2: new" not in real.stdout  # new rows are counted, not listed


def test_a_reimport_lists_what_it_changed_and_overwrite_replaces(clean_db: Settings) -> None:
    run(clean_db, str(AGENCY))
    again = run(clean_db, str(PORTAL))
    # Dana (050-234-5678) is known: only her empty fields could be filled, and none is.
    assert again.stdout.splitlines()[0] == "imported 2, updated 0, unchanged 1, rejected 0"
    assert "  row 2: unchanged" in again.stdout.splitlines()
    replaced = run(clean_db, str(PORTAL), "--overwrite")
    assert replaced.stdout.splitlines()[0] == "imported 0, updated 1, unchanged 2, rejected 0"
    assert (
        "  row 2: updated (name, notes, stage, want_budget_max, want_city)"
        in replaced.stdout.splitlines()
    )


def test_no_phone_number_reaches_the_output(clean_db: Settings, tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("שם,טלפון\nאבי,0509\nדנה,+972 50 99\n", encoding="utf-8")
    result = run(clean_db, str(path))
    assert "0509" not in result.stdout + result.stderr
    assert "99" not in result.stdout.replace("(a value of", "")
    assert "row 2: rejected: column 'טלפון' (phone): not a valid phone number" in result.stdout


def test_a_progress_bar_is_drawn_on_a_terminal(clean_db: Settings) -> None:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [OVENAI, "leads", "import", str(AGENCY)],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=follower,
        env=environment(clean_db),
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        drawn += chunk
    stdout, _ = process.communicate(timeout=120)
    os.close(leader)
    assert process.returncode == 0, drawn.decode(errors="replace")[-3000:]
    assert b"importing" in drawn
    assert stdout.decode().splitlines()[0] == "imported 6, updated 0, unchanged 0, rejected 4"
