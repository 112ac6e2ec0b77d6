"""`ovenai automation ...` and the automation parts of `ovenai db upgrade` and `ovenai leads
import --greet`, against the test database."""

from __future__ import annotations

from pathlib import Path

from cli.conftest import Run
from ovenai.automation import load_seed

SEEDED = [rule.key for rule in load_seed()]  # the default rules, in run order


def test_db_upgrade_seeds_the_default_rules_once(ovenai: Run) -> None:
    first = ovenai("db", "upgrade")
    assert first.exit_code == 0, first.output
    assert f"added {len(SEEDED)} default automation rules" in first.output
    again = ovenai("db", "upgrade")
    assert "automation rules" not in again.output


def test_rules_are_listed_switched_shown_and_seeded_again(ovenai: Run) -> None:
    assert f"added {len(SEEDED)} rules, kept 0" in ovenai("automation", "seed").output
    listed = ovenai("automation", "rules")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert [line.split()[0] for line in lines] == SEEDED
    reminder = lines[SEEDED.index("remind_day_before")]
    assert reminder.split()[1:3] == ["on", "meeting_day_before"]
    assert lines[0].split()[1:3] == ["on", "first_message"]
    off = ovenai("automation", "disable", "greet_new_api_lead")
    assert off.output.strip() == "greet_new_api_lead disabled"
    assert ovenai("automation", "rules").output.splitlines()[1].split()[1] == "off"
    shown = ovenai("automation", "show", "first_answer_contacted")
    assert '"stage": "contacted"' in shown.output
    # Seeding again keeps what was changed.
    assert f"added 0 rules, kept {len(SEEDED)}" in ovenai("automation", "seed").output
    assert ovenai("automation", "rules").output.splitlines()[1].split()[1] == "off"
    assert ovenai("automation", "enable", "greet_new_api_lead").output.strip().endswith("enabled")
    missing = ovenai("automation", "show", "no_such_rule")
    assert missing.exit_code != 0 and "no automation rule no_such_rule" in missing.output


def test_a_bad_seed_file_is_refused_with_the_rule_and_field(ovenai: Run, tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("- key: x1\n  name: X\n  trigger: {kind: sometimes}\n  actions: []\n")
    answer = ovenai("automation", "seed", "--file", str(bad))
    assert answer.exit_code != 0
    assert "rules.yaml, rule 1: trigger.kind" in answer.output


def test_the_log_is_empty_until_a_rule_fires_and_imports_greet_when_asked(
    ovenai: Run, tmp_path: Path
) -> None:
    ovenai("automation", "seed")
    assert ovenai("templates", "sync").exit_code == 0  # the simulator's seed templates
    assert ovenai("automation", "log").output.strip() == "nothing logged"
    sheet = tmp_path / "leads.csv"
    sheet.write_text("name,phone,want_city\nיעל,0521000011,רמת גן\n", encoding="utf-8")
    imported = ovenai("leads", "import", str(sheet), "--greet")
    assert imported.exit_code == 0, imported.output
    assert imported.output.startswith("imported 1")
    log = ovenai("automation", "log").output.strip().splitlines()
    assert len(log) == 1
    assert "greet_new_api_lead" in log[0] and "done" in log[0]
    assert "queued template welcome_new_lead_he (he)" in log[0]


SEQUENCE_RULE = """
- key: welcome_sequence
  name: רצף ברוכים הבאים
  trigger: {kind: lead_created}
  actions:
    - type: start_sequence
      steps:
        - {after_days: 1, text: {he: "שלום שוב"}}
        - {after_days: 2, family: followup_interest}
"""


def test_enrolments_are_listed_once_a_lead_is_in_a_sequence(ovenai: Run, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(SEQUENCE_RULE, encoding="utf-8")
    assert ovenai("automation", "seed", "--file", str(rules)).exit_code == 0
    empty = ovenai("automation", "enrolments", "--rule", "welcome_sequence")
    assert empty.exit_code == 0 and empty.output.strip() == "no lead is in a sequence"
    missing = ovenai("automation", "enrolments", "--rule", "no_such_rule")
    assert missing.exit_code != 0 and "no automation rule no_such_rule" in missing.output
    sheet = tmp_path / "leads.csv"
    sheet.write_text("name,phone\nיעל,0521000012\n", encoding="utf-8")
    assert ovenai("leads", "import", str(sheet), "--greet").exit_code == 0
    [line] = ovenai("automation", "enrolments").output.strip().splitlines()
    assert "  welcome_sequence  " in line and "  0/2  next due " in line
