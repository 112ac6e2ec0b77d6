"""Settings: validated once, one clear line naming a bad variable, secrets never shown."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ovenai.crypto import generate_master_key
from ovenai.db import upgrade, upgrade_keystore
from ovenai.errors import ConfigurationError
from ovenai.settings import load_settings

KEYS = generate_master_key(key_id="k1")


def test_the_default_api_version_is_current_not_v17(tmp_path: Path) -> None:
    settings = load_settings(encryption_keys=KEYS, secret_key="s" * 32, data_dir=tmp_path)
    assert settings.whatsapp_api_version == "v25.0"


def test_an_expired_api_version_stops_startup_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WHATSAPP_API_VERSION", "v17.0")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(encryption_keys=KEYS, secret_key="x" * 32)
    assert "WHATSAPP_API_VERSION" in caught.value.message
    assert "\n" not in caught.value.message


def test_a_malformed_database_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        load_settings(encryption_keys=KEYS, secret_key="x" * 32)


def test_a_missing_key_ring_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OVENAI_ENCRYPTION_KEYS", raising=False)
    with pytest.raises(ConfigurationError, match="OVENAI_ENCRYPTION_KEYS is not set"):
        load_settings(secret_key="x" * 32)


def test_secrets_are_hidden_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "EAAG-very-secret-token")
    settings = load_settings(encryption_keys=KEYS, secret_key="x" * 32)
    assert "EAAG-very-secret-token" not in repr(settings)
    assert "EAAG-very-secret-token" not in str(settings.model_dump())
    assert settings.secret("whatsapp_access_token") == "EAAG-very-secret-token"


def test_sandbox_generates_secrets_once_and_keeps_given_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OVENAI_ENCRYPTION_KEYS", "OVENAI_SECRET_KEY", "WHATSAPP_APP_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "given-by-the-test")
    first = load_settings(sandbox=True, data_dir=tmp_path)
    second = load_settings(sandbox=True, data_dir=tmp_path)
    assert first.secret("whatsapp_app_secret") == "given-by-the-test"
    assert first.secret("encryption_keys") == second.secret("encryption_keys")
    assert first.whatsapp_phone_number_id
    assert (tmp_path / "sandbox-secrets.json").stat().st_mode & 0o077 == 0


def test_sandbox_refuses_production_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OVENAI_ENV", "production")
    with pytest.raises(ConfigurationError, match="production"):
        load_settings(sandbox=True, data_dir=tmp_path)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The common default umask (group and others may read what is created)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.usefixtures("open_umask")
def test_data_files_and_their_folder_are_created_owner_only(tmp_path: Path) -> None:
    var = tmp_path / "var"
    settings = load_settings(
        sandbox=True, data_dir=var, database_url=f"sqlite:///{var / 'ovenai.db'}"
    )
    upgrade(settings.database_url)
    assert settings.keystore_url is not None
    upgrade_keystore(settings.keystore_url)
    assert _mode(var) == 0o700
    files = sorted(var.iterdir())
    assert {path.name for path in files} >= {"ovenai.db", "keys.db", "sandbox-secrets.json"}
    for path in files:  # the databases, their -wal/-shm files when present, the secrets
        assert _mode(path) == 0o600, path.name


def test_metrics_are_open_to_loopback_only_by_default(tmp_path: Path) -> None:
    settings = load_settings(encryption_keys=KEYS, secret_key="s" * 32, data_dir=tmp_path)
    assert [str(net) for net in settings.metrics_networks] == ["127.0.0.1/32", "::1/128"]
    assert settings.trusted_proxy_list == []
    assert settings.metrics_token is None


def test_a_malformed_trusted_proxy_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVENAI_TRUSTED_PROXIES", "10.0.0.0/8, proxy.example")
    with pytest.raises(ConfigurationError, match="OVENAI_TRUSTED_PROXIES"):
        load_settings(encryption_keys=KEYS, secret_key="x" * 32)
