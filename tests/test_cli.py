"""The `ovenai` command as an operator runs it: a real process, one clear line on errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from ovenai.engines import sync_url
from ovenai.settings import Settings
from support.dashboard import PASSWORD, sign_in

OVENAI = str(Path(sys.executable).with_name("ovenai"))


def run(
    settings: Settings, *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `ovenai` as a separate process; its standard input is a pipe (no terminal)."""
    environment = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "OVENAI_KEYSTORE_URL": str(settings.keystore_url),
        "OVENAI_ENCRYPTION_KEYS": settings.secret("encryption_keys"),
        "OVENAI_SECRET_KEY": settings.secret("secret_key"),
        **(env or {}),
    }
    return subprocess.run(
        [OVENAI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def test_every_command_has_help(clean_db: Settings) -> None:
    for command in (["--help"], ["serve", "--help"], ["leads", "import", "--help"]):
        result = run(clean_db, *command)
        assert result.returncode == 0 and "Usage" in result.stdout


def test_db_upgrade_is_idempotent(clean_db: Settings) -> None:
    result = run(clean_db, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_users_and_tokens_are_created_and_the_token_is_printed_once(clean_db: Settings) -> None:
    made = run(
        clean_db,
        "users",
        "create",
        "Rina@Example.co.il",
        "--role",
        "admin",
        "--password",
        "correct horse battery",
    )
    assert made.returncode == 0, made.stderr
    token = run(clean_db, "tokens", "create", "rina@example.co.il")
    assert token.returncode == 0
    assert token.stdout.strip().startswith("ovn_")
    again = run(clean_db, "users", "create", "rina@example.co.il", "--password", "another long one")
    assert again.returncode != 0
    assert again.stderr.strip() == "error: a user with this e-mail address already exists"


def test_a_user_created_without_a_terminal_needs_a_way_to_get_a_password(
    clean_db: Settings,
) -> None:
    refused = run(clean_db, "users", "create", "dana@example.co.il")
    assert refused.returncode != 0
    assert refused.stderr.startswith("error: no terminal to ask for the password")
    assert "--password-stdin" in refused.stderr
    assert run(clean_db, "tokens", "create", "dana@example.co.il").returncode != 0  # not made


def test_the_password_is_read_from_stdin_and_signs_in(clean_db: Settings, server: Any) -> None:
    made = run(
        clean_db, "users", "create", "noa@example.co.il", "--password-stdin",
        stdin="a long enough passphrase\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with httpx.Client(base_url=server.url) as browser:
        answer = sign_in(browser, "noa@example.co.il", "a long enough passphrase")
    assert answer.status_code == 303


def test_a_user_for_api_tokens_only_is_said_so_and_two_sources_are_refused(
    clean_db: Settings,
) -> None:
    made = run(clean_db, "users", "create", "bot@example.co.il", "--no-password")
    assert made.returncode == 0, made.stderr
    assert run(clean_db, "tokens", "create", "bot@example.co.il").returncode == 0
    both = run(
        clean_db, "users", "create", "x@example.co.il", "--no-password", "--password-stdin",
        stdin="whatever long\n",
    )  # fmt: skip
    assert both.returncode != 0 and "give only one of" in both.stderr
    empty = run(clean_db, "users", "create", "y@example.co.il", "--password-stdin")
    assert empty.returncode != 0 and "empty password" in empty.stderr


def test_a_token_for_an_unknown_user_fails_with_one_line(clean_db: Settings) -> None:
    result = run(clean_db, "tokens", "create", "nobody@example.co.il")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["error: no user with e-mail nobody@example.co.il"]


def test_a_malformed_setting_stops_with_one_line_naming_it(clean_db: Settings) -> None:
    result = run(clean_db, "db", "upgrade", env={"WHATSAPP_API_VERSION": "v17.0"})
    assert result.returncode == 78
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "WHATSAPP_API_VERSION" in lines[0]


def test_secrets_never_reach_the_output(clean_db: Settings) -> None:
    result = run(clean_db, "db", "upgrade", env={"WHATSAPP_ACCESS_TOKEN": "EAAG-secret-value"})
    assert "EAAG-secret-value" not in result.stdout + result.stderr
    assert clean_db.secret("encryption_keys").split(":")[1] not in result.stdout + result.stderr


@pytest.mark.parametrize("bom", [True, False])
def test_leads_import_reports_each_row(clean_db: Settings, tmp_path: Path, bom: bool) -> None:
    text = "שם,טלפון,עיר\nדנה,050-234-5678,חיפה\nרון,0502345678,חדרה\nבעיה,12,חיפה\n"
    path = tmp_path / "leads.csv"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    result = run(clean_db, "leads", "import", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "imported 1, updated 0, unchanged 1, rejected 1"
    assert "row 4: rejected: column 'טלפון' (phone)" in result.stdout


def test_an_import_killed_midway_leaves_nothing_behind(clean_db: Settings, tmp_path: Path) -> None:
    rows = "".join(f"ליד {i},+9725{i:08d}\n" for i in range(20_000, 24_000))
    path = tmp_path / "big.csv"
    path.write_text("name,phone\n" + rows, encoding="utf-8")
    environment = {
        **os.environ,
        "DATABASE_URL": clean_db.database_url,
        "OVENAI_KEYSTORE_URL": str(clean_db.keystore_url),
        "OVENAI_ENCRYPTION_KEYS": clean_db.secret("encryption_keys"),
        "OVENAI_SECRET_KEY": clean_db.secret("secret_key"),
    }
    process = subprocess.Popen(
        [OVENAI, "leads", "import", str(path)], env=environment, stdout=subprocess.PIPE
    )
    time.sleep(2.5)
    still_running = process.poll() is None
    process.kill()
    process.communicate(timeout=30)
    assert still_running, "the import finished before it could be killed; make the file bigger"
    assert _lead_count(clean_db) == 0


def _lead_count(settings: Settings) -> int:
    engine = create_engine(sync_url(settings.database_url))
    with engine.connect() as conn:
        value = conn.execute(text("SELECT count(*) FROM leads")).scalar_one()
    engine.dispose()
    return int(value)


def test_a_revoked_token_no_longer_authenticates(clean_db: Settings, server: Any) -> None:
    run(clean_db, "users", "create", "ops@example.co.il", "--password", "long enough pass")
    token = run(clean_db, "tokens", "create", "ops@example.co.il").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server.url}/api/v1/leads", headers=headers).status_code == 200
    listed = run(clean_db, "tokens", "list").stdout
    assert token not in listed and token[:10] in listed
    token_id = listed.split()[0]
    assert run(clean_db, "tokens", "revoke", token_id).returncode == 0
    assert httpx.get(f"{server.url}/api/v1/leads", headers=headers).status_code == 401


def test_sending_resumes_after_a_token_pause(clean_db: Settings) -> None:
    from ovenai.db import open_database
    from ovenai.outbox.pause import pause_sending
    from support.aio import run_async

    async def pause() -> None:
        db = open_database(clean_db)
        await db.start()
        try:
            await pause_sending(db, code=190, reason="Error validating access token")
        finally:
            await db.dispose()

    run_async(pause)
    assert run(clean_db, "sending", "resume").stdout.strip() == "sending resumed"
    assert run(clean_db, "sending", "resume").stdout.strip() == "sending was not paused"


# `ovenai users list|disable|enable|reset-password|unlock|sessions`: what the operator does
# takes effect at once in the running server.

NEW_PASSWORD = "another long passphrase"


def _user(settings: Settings, email: str, *, role: str = "agent", password: str = PASSWORD) -> None:
    made = run(
        settings, "users", "create", email, "--role", role, "--password-stdin",
        stdin=f"{password}\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr


def _browser(server: Any) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Accept": "text/html"}, timeout=10)


def _inbox_opens(browser: httpx.Client) -> bool:
    answer = browser.get("/")
    assert answer.status_code in (200, 303)
    return answer.status_code == 200


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_users_list_shows_every_user_and_their_state(clean_db: Settings, server: Any) -> None:
    _user(clean_db, "boss@example.co.il", role="admin")
    _user(clean_db, "rina@example.co.il")
    assert run(clean_db, "users", "create", "bot@example.co.il", "--no-password").returncode == 0
    _user(clean_db, "gone@example.co.il")
    assert run(clean_db, "users", "disable", "gone@example.co.il").returncode == 0
    with _browser(server) as browser:
        assert sign_in(browser, "rina@example.co.il").status_code == 303
        listed = run(clean_db, "users", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "boss@example.co.il admin active sessions=0",
        "bot@example.co.il agent api-only sessions=0",
        "gone@example.co.il agent disabled sessions=0",
        "rina@example.co.il agent active sessions=1",
    ]
    assert "$argon2" not in listed.stdout


def test_users_disable_ends_the_browser_and_the_token_and_enable_restores(
    clean_db: Settings, server: Any
) -> None:
    _user(clean_db, "rina@example.co.il")
    token = run(clean_db, "tokens", "create", "rina@example.co.il").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    with _browser(server) as browser:
        assert sign_in(browser, "rina@example.co.il").status_code == 303
        assert _inbox_opens(browser)
        disabled = run(clean_db, "users", "disable", "Rina@Example.co.il")
        assert disabled.returncode == 0, disabled.stderr
        assert disabled.stdout.strip() == "disabled rina@example.co.il"
        answer = browser.get("/")
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
        assert httpx.get(f"{server.url}/api/v1/leads", headers=headers).status_code == 401
        assert sign_in(browser, "rina@example.co.il").status_code == 401
        enabled = run(clean_db, "users", "enable", "rina@example.co.il")
        assert enabled.returncode == 0 and enabled.stdout.strip() == "enabled rina@example.co.il"
        assert httpx.get(f"{server.url}/api/v1/leads", headers=headers).status_code == 200
        assert sign_in(browser, "rina@example.co.il").status_code == 303


def test_users_disable_refuses_the_last_admin_and_unknown_users(clean_db: Settings) -> None:
    _user(clean_db, "boss@example.co.il", role="admin")
    refused = run(clean_db, "users", "disable", "boss@example.co.il")
    assert "last active admin" in _one_error_line(refused)
    assert run(clean_db, "users", "list").stdout == "boss@example.co.il admin active sessions=0\n"
    unknown = _one_error_line(run(clean_db, "users", "disable", "nobody@example.co.il"))
    assert unknown == "error: no user with e-mail nobody@example.co.il"
    _user(clean_db, "deputy@example.co.il", role="admin")
    assert run(clean_db, "users", "disable", "boss@example.co.il").returncode == 0


def test_users_reset_password_from_stdin(clean_db: Settings, server: Any) -> None:
    _user(clean_db, "rina@example.co.il")
    with _browser(server) as office:
        assert sign_in(office, "rina@example.co.il").status_code == 303
        reset = run(
            clean_db, "users", "reset-password", "rina@example.co.il", "--password-stdin",
            stdin=f"{NEW_PASSWORD}\n",
        )  # fmt: skip
        assert reset.returncode == 0, reset.stderr
        assert reset.stdout.strip() == "password set for rina@example.co.il; 1 sessions ended"
        assert not _inbox_opens(office)
    with _browser(server) as browser:
        assert sign_in(browser, "rina@example.co.il").status_code == 401
        assert sign_in(browser, "rina@example.co.il", NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize(
    ("weak", "reason"),
    [
        ("password123", "among the most common"),
        ("short", "at least 10 characters"),
        ("rina@example.co.il", "may not be the e-mail"),
    ],
)
def test_users_reset_password_refuses_a_weak_one_with_one_line(
    clean_db: Settings, server: Any, weak: str, reason: str
) -> None:
    _user(clean_db, "rina@example.co.il")
    refused = run(
        clean_db, "users", "reset-password", "rina@example.co.il", "--password-stdin",
        stdin=f"{weak}\n",
    )  # fmt: skip
    assert reason in _one_error_line(refused)
    assert refused.returncode == 65
    with _browser(server) as browser:
        assert sign_in(browser, "rina@example.co.il", weak).status_code == 401
        assert sign_in(browser, "rina@example.co.il").status_code == 303


def test_users_reset_password_without_a_terminal_needs_stdin(clean_db: Settings) -> None:
    _user(clean_db, "rina@example.co.il")
    refused = run(clean_db, "users", "reset-password", "rina@example.co.il")
    assert "--password-stdin" in _one_error_line(refused)


def test_users_unlock_lets_the_right_password_in(clean_db: Settings, server: Any) -> None:
    _user(clean_db, "rina@example.co.il")
    with _browser(server) as browser:
        for _ in range(5):
            assert sign_in(browser, "rina@example.co.il", "guess it!").status_code == 401
        assert sign_in(browser, "rina@example.co.il").status_code == 429
        assert "locked" not in run(clean_db, "users", "list").stdout  # 5 of 50: not the e-mail
        unlocked = run(clean_db, "users", "unlock", "rina@example.co.il")
        assert unlocked.returncode == 0, unlocked.stderr
        assert unlocked.stdout.strip() == "unlocked rina@example.co.il (2 counts cleared)"
        assert sign_in(browser, "rina@example.co.il").status_code == 303


def test_users_sessions_lists_them_and_end_ends_them(clean_db: Settings, server: Any) -> None:
    _user(clean_db, "rina@example.co.il")
    _user(clean_db, "dana@example.co.il")
    with _browser(server) as office, _browser(server) as phone, _browser(server) as dana:
        for browser, email in ((office, "rina"), (phone, "rina"), (dana, "dana")):
            assert sign_in(browser, f"{email}@example.co.il").status_code == 303
        listed = run(clean_db, "users", "sessions", "rina@example.co.il")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert len(lines) == 2 and all("127.0.0.1" in line for line in lines)
        assert len({line.split()[0] for line in lines}) == 2
        ended = run(clean_db, "users", "sessions", "rina@example.co.il", "--end")
        assert ended.returncode == 0 and ended.stdout.strip() == "2 sessions ended"
        assert not _inbox_opens(office) and not _inbox_opens(phone)
        assert _inbox_opens(dana)
        assert run(clean_db, "users", "sessions", "rina@example.co.il").stdout == ""


def test_users_create_refuses_a_common_password_with_one_line(clean_db: Settings) -> None:
    refused = run(
        clean_db, "users", "create", "rina@example.co.il", "--password-stdin",
        stdin="password123\n",
    )  # fmt: skip
    assert "among the most common" in _one_error_line(refused)
    assert "rina@example.co.il" not in run(clean_db, "users", "list").stdout
