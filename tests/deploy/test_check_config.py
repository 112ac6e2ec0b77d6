"""`ovenai check-config` and the same check at a production start of serve and worker."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
import time_machine
from typer.testing import CliRunner

from ovenai import config_check
from ovenai.cli import app
from ovenai.crypto import generate_master_key
from ovenai.errors import ConfigurationError
from ovenai.settings import (
    SANDBOX_BUSINESS_ACCOUNT_ID,
    SANDBOX_PHONE_NUMBER_ID,
    Settings,
    load_settings,
)

TODAY = date(2026, 12, 6)
MASTER_KEY = generate_master_key()
OURS = ("OVENAI_", "WHATSAPP_", "DATABASE_URL", "REDIS_URL")


def production(**changes: str | None) -> dict[str, str | None]:
    """A production configuration with nothing wrong, changed by ``changes``."""
    values: dict[str, str | None] = {
        "OVENAI_ENV": "production",
        "OVENAI_PUBLIC_URL": "https://crm.example.com",
        "DATABASE_URL": "postgresql+psycopg://ovenai@db.example.com/ovenai",
        "OVENAI_KEYSTORE_URL": "postgresql+psycopg://ovenai@db.example.com/ovenai_keys",
        "OVENAI_ENCRYPTION_KEYS": MASTER_KEY,
        "OVENAI_SECRET_KEY": "s" * 43,
        "WHATSAPP_ACCESS_TOKEN": "EAAG-production",
        "WHATSAPP_PHONE_NUMBER_ID": "109876543210001",
        "WHATSAPP_BUSINESS_ACCOUNT_ID": "209876543210001",
        "WHATSAPP_APP_SECRET": "0123456789abcdef",
        "WHATSAPP_WEBHOOK_VERIFY_TOKEN": "verify-me",
        "WHATSAPP_API_VERSION": "v25.0",
    }
    return values | changes


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No setting of this process's environment, and no .env (cwd: a tmp dir)."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith(OURS):
            monkeypatch.delenv(key)
    return tmp_path


def problems(monkeypatch: pytest.MonkeyPatch, **changes: str | None) -> dict[str, list[str]]:
    for key, value in production(**changes).items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    found: dict[str, list[str]] = {}
    for problem in config_check.check(today=TODAY):
        found.setdefault(problem.setting, []).append(problem.message)
    return found


def test_a_good_production_configuration_passes(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert problems(monkeypatch) == {}


def test_sandbox_settings_are_refused(environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = problems(
        monkeypatch,
        WHATSAPP_PHONE_NUMBER_ID=SANDBOX_PHONE_NUMBER_ID,
        WHATSAPP_BUSINESS_ACCOUNT_ID=SANDBOX_BUSINESS_ACCOUNT_ID,
        WHATSAPP_ACCESS_TOKEN="sandbox-abc",
        WHATSAPP_API_BASE_URL="http://127.0.0.1:9001",
        OVENAI_ENV="development",
    )
    assert set(found) == {
        "WHATSAPP_PHONE_NUMBER_ID",
        "WHATSAPP_BUSINESS_ACCOUNT_ID",
        "WHATSAPP_ACCESS_TOKEN",
        "WHATSAPP_API_BASE_URL",
        "OVENAI_ENV",
    }
    assert "the simulator?" in found["WHATSAPP_API_BASE_URL"][0]


def test_the_sandbox_generated_secrets_are_refused(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generated = {"secret_key": "g" * 43, "whatsapp_app_secret": "generated-app-secret"}
    data = environment / "var"
    data.mkdir()
    (data / "sandbox-secrets.json").write_text(json.dumps(generated))
    found = problems(
        monkeypatch,
        OVENAI_DATA_DIR=str(data),
        OVENAI_SECRET_KEY="g" * 43,
        WHATSAPP_APP_SECRET="generated-app-secret",
    )
    assert set(found) == {"OVENAI_SECRET_KEY", "WHATSAPP_APP_SECRET"}
    assert "sandbox's generated value" in found["OVENAI_SECRET_KEY"][0]
    assert "g" * 43 not in json.dumps(found)  # never the value


def test_missing_secrets_are_each_named(environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = {
        "WHATSAPP_ACCESS_TOKEN": None,
        "WHATSAPP_APP_SECRET": "",
        "WHATSAPP_WEBHOOK_VERIFY_TOKEN": None,
        "OVENAI_ENCRYPTION_KEYS": None,
        "OVENAI_SECRET_KEY": None,
        "OVENAI_KEYSTORE_URL": None,
        "OVENAI_PUBLIC_URL": None,
    }
    found = problems(monkeypatch, **missing)
    assert set(found) == set(missing)
    assert all(messages == ["is not set (required in production)"] for messages in found.values())


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("v20.0", "is malformed: Value error, v20.0 has expired at Meta"),
        ("v21.0", None),  # expires 2027-01-21: a warning only
        ("v19.0", "is malformed"),
    ],
)
def test_an_expired_graph_version_is_refused(
    environment: Path, monkeypatch: pytest.MonkeyPatch, version: str, expected: str | None
) -> None:
    # The settings refuse an expired version by today's date: the table is read on TODAY.
    with time_machine.travel(datetime.combine(TODAY, time(12), tzinfo=UTC), tick=False):
        found = problems(monkeypatch, WHATSAPP_API_VERSION=version)
        checked = config_check.check(today=TODAY)
    if expected is None:
        assert found == {"WHATSAPP_API_VERSION": [found["WHATSAPP_API_VERSION"][0]]}
        warning = checked[0]
        assert warning.warning and "expires at Meta on 2027-01-21" in warning.message
    else:
        assert found["WHATSAPP_API_VERSION"][0].startswith(expected)


def test_the_expiry_table_decides_by_date() -> None:
    assert config_check._version_problems("v21.0", date(2027, 1, 21))[0].warning is False
    assert config_check._version_problems("v21.0", date(2026, 6, 1)) == []
    assert config_check._version_problems("v26.0", TODAY) == []
    assert config_check.version_expiry("v25.0") == date(2028, 7, 29)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://crm.example.com", "need https://"),
        ("https://localhost:8443", "not reachable from the internet"),
        ("https://10.1.2.3", "private or loopback"),
        ("https://127.0.0.1", "private or loopback"),
        ("ftp://crm.example.com", "is malformed"),
    ],
)
def test_a_public_url_must_be_public_https(
    environment: Path, monkeypatch: pytest.MonkeyPatch, url: str, words: str
) -> None:
    found = problems(monkeypatch, OVENAI_PUBLIC_URL=url)
    assert any(words in message for message in found["OVENAI_PUBLIC_URL"]), found


def test_the_webhook_probe_url_must_be_https_too(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "webhook_probe_url" not in Settings.model_fields:
        pytest.skip("OVENAI_WEBHOOK_PROBE_URL is not a setting in this checkout")
    url = "http://crm.example.com/api/webhooks/whatsapp"
    found = problems(monkeypatch, OVENAI_WEBHOOK_PROBE_URL=url)
    assert list(found) == ["OVENAI_WEBHOOK_PROBE_URL"]


def test_sqlite_is_refused_in_production(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = problems(
        monkeypatch,
        DATABASE_URL=f"sqlite:///{environment}/o.db",
        OVENAI_KEYSTORE_URL=f"sqlite:///{environment}/k.db",
    )
    assert set(found) == {"DATABASE_URL", "OVENAI_KEYSTORE_URL"}


def test_every_malformed_setting_is_named_not_only_the_first(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = problems(monkeypatch, OVENAI_MESSAGING_TIER="lots", OVENAI_PAIR_BURST="0")
    assert {"OVENAI_MESSAGING_TIER", "OVENAI_PAIR_BURST"} <= set(found)


def _run(*args: str, **env: str | None) -> tuple[int, str, str]:
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith(OURS)}
    result = CliRunner().invoke(app, list(args), env=unset | env)
    return result.exit_code, result.stdout, result.stderr


def test_cli_check_config_names_each_problem_and_exits_78(environment: Path) -> None:
    bad = production(
        WHATSAPP_ACCESS_TOKEN=None,
        OVENAI_PUBLIC_URL="http://crm.example.com",
        WHATSAPP_PHONE_NUMBER_ID=SANDBOX_PHONE_NUMBER_ID,
    )
    code, out, _ = _run("check-config", **bad)
    assert code == 78
    assert out.splitlines() == [
        "FAIL  WHATSAPP_ACCESS_TOKEN: is not set (required in production)",
        "FAIL  WHATSAPP_PHONE_NUMBER_ID: is the sandbox's number id, not a real number",
        "FAIL  OVENAI_PUBLIC_URL: is http://crm.example.com: Meta and browsers need https://",
        "3 problems: this configuration must not run production",
    ]
    code, out, _ = _run("check-config", **production())
    assert (code, out) == (0, "the configuration is fit for production\n")


@pytest.mark.parametrize("command", [["worker"], ["serve", "--port", "0"]])
def test_serve_and_worker_refuse_a_production_start_with_problems(
    environment: Path, command: list[str]
) -> None:
    bad = production(
        WHATSAPP_API_BASE_URL="http://127.0.0.1:9",
        WHATSAPP_APP_SECRET=None,
        DATABASE_URL=f"sqlite:///{environment}/ovenai.db",
    )
    code, out, err = _run(*command, **bad)
    assert code == 78, out + err
    [line] = err.splitlines()
    assert line.startswith("error: refusing to start in production (3 problems")
    for name in ("WHATSAPP_APP_SECRET", "WHATSAPP_API_BASE_URL", "DATABASE_URL"):
        assert name in line
    assert not (environment / "ovenai.db").exists()  # stopped before touching anything


def test_the_start_check_does_nothing_outside_production(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVENAI_ENCRYPTION_KEYS", MASTER_KEY)
    monkeypatch.setenv("OVENAI_SECRET_KEY", "short")
    settings = load_settings()
    assert config_check.require_production_ready(settings) == []
    monkeypatch.setenv("OVENAI_ENV", "production")
    monkeypatch.setenv("OVENAI_KEYSTORE_URL", f"sqlite:///{environment}/k.db")
    with pytest.raises(ConfigurationError) as caught:
        config_check.require_production_ready(load_settings(), today=TODAY)
    assert "OVENAI_SECRET_KEY: is shorter than 32" in caught.value.message
    assert "short" not in caught.value.message.replace("shorter", "")
