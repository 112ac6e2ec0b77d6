"""Is this configuration fit for production? Every problem at once, each naming its setting.

``ovenai check-config`` prints them all (and exits 78 when there is any); ``ovenai serve``
and ``ovenai worker`` run the same check when ``OVENAI_ENV=production`` and refuse to start.
Nothing here calls Meta (``ovenai golive check`` does) and no message holds a secret's value.

Refused in production:

* a setting that does not validate (every one is named, not only the first);
* the sandbox: sandbox mode, the sandbox's phone number or WABA ids, a ``sandbox-`` token,
  a secret equal to one ``make run`` generated (``var/sandbox-secrets.json``), a Graph base
  URL that is not Meta's (the simulator);
* a missing secret or id (access token, app secret, verify token, master keys, secret key,
  phone number id, WABA id, key store URL);
* a Graph API version Meta has switched off, or switches off today (:data:`GRAPH_VERSIONS`);
* a public URL (``OVENAI_PUBLIC_URL``, ``OVENAI_WEBHOOK_PROBE_URL``) that is missing, not
  HTTPS, or not public (localhost, a private or loopback address);
* SQLite for the data or the key store (several processes and hosts need PostgreSQL).

A version that expires within :data:`EXPIRY_WARNING_DAYS` is a warning, not a refusal.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError

from ovenai import dialects
from ovenai.errors import ConfigurationError
from ovenai.settings import (
    SANDBOX_BUSINESS_ACCOUNT_ID,
    SANDBOX_PHONE_NUMBER_ID,
    SANDBOX_SECRETS,
    Environment,
    Settings,
)

META_GRAPH_URL = "https://graph.facebook.com"
EXPIRY_WARNING_DAYS = 90

# Graph API versions and the day Meta switches each off (None: not announced yet), from
# Meta's "Graph API › Changelog › Versions" page (docs/whatsapp-api-notes.md "Versions").
GRAPH_VERSIONS: dict[str, date | None] = {
    "v20.0": date(2026, 9, 24),
    "v21.0": date(2027, 1, 21),
    "v22.0": date(2027, 5, 20),
    "v23.0": date(2027, 10, 8),
    "v24.0": date(2028, 2, 18),
    "v25.0": date(2028, 7, 29),
    "v26.0": None,
}

REQUIRED = (
    "whatsapp_access_token",
    "whatsapp_app_secret",
    "whatsapp_webhook_verify_token",
    "whatsapp_phone_number_id",
    "whatsapp_business_account_id",
    "encryption_keys",
    "secret_key",
    "keystore_url",
    "public_url",
)
GENERATED_SECRETS = (
    "whatsapp_access_token",
    "whatsapp_app_secret",
    "whatsapp_webhook_verify_token",
    "encryption_keys",
    "secret_key",
)
MIN_SECRET_KEY_CHARS = 32


@dataclass(frozen=True)
class Problem:
    """One thing wrong: the environment variable and what to do about it."""

    setting: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}"


def env_name(field: str) -> str:
    """The environment variable of a Settings field."""
    info = Settings.model_fields.get(field)
    return str(info.alias) if info is not None and info.alias else field.upper()


def read_settings(**overrides: Any) -> tuple[Settings, list[Problem]]:
    """The settings of the environment (and ``overrides``), with every value that does not
    validate reported and replaced by its default so the other checks still run."""
    problems: list[Problem] = []
    try:
        return Settings(**overrides), problems
    except ValidationError as exc:
        bad: dict[str, Any] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            name = field if field in Settings.model_fields else _field_of_alias(field)
            problems.append(Problem(env_name(name), f"is malformed: {error['msg']}"))
            if name in Settings.model_fields:
                bad[name] = Settings.model_fields[name].default
    return Settings(**(overrides | bad)), problems


def _field_of_alias(alias: str) -> str:
    for name, info in Settings.model_fields.items():
        if info.alias == alias:
            return name
    return alias


def production_problems(settings: Settings, *, today: date | None = None) -> list[Problem]:
    """What makes these settings unfit for production (warnings included, flagged)."""
    today = today or date.today()
    found: list[Problem] = []
    if settings.environment is not Environment.PRODUCTION:
        found.append(
            Problem("OVENAI_ENV", f"is {settings.environment.value}; production needs production")
        )
    if settings.sandbox:
        found.append(Problem("OVENAI_ENV", "the sandbox (serve --sandbox) never runs production"))
    for name in REQUIRED:
        if not _secret_value(settings, name):
            found.append(Problem(env_name(name), "is not set (required in production)"))
    found += _sandbox_values(settings)
    found += _secret_strength(settings)
    found += _version_problems(settings.whatsapp_api_version, today)
    found += _url_problems("public_url", settings.public_url)
    probe = getattr(settings, "webhook_probe_url", None)
    if probe:
        found += _url_problems("webhook_probe_url", probe)
    for name in ("database_url", "keystore_url"):
        url = getattr(settings, name)
        if url and dialects.of_url(url) == "sqlite":
            found.append(
                Problem(
                    env_name(name),
                    "is SQLite; production (several serve and worker processes) needs "
                    "PostgreSQL: postgresql+psycopg://...",
                )
            )
    return found


def check(*, today: date | None = None, **overrides: Any) -> list[Problem]:
    """Every problem of the environment's configuration for production."""
    settings, problems = read_settings(**overrides)
    return problems + production_problems(settings, today=today)


def require_production_ready(settings: Settings, *, today: date | None = None) -> list[Problem]:
    """At a production start: raise ConfigurationError naming every problem; return the
    warnings (to be logged). Does nothing outside production."""
    if settings.environment is not Environment.PRODUCTION:
        return []
    found = production_problems(settings, today=today)
    refused = [p for p in found if not p.warning]
    if refused:
        listed = "; ".join(str(p) for p in refused)
        raise ConfigurationError(
            f"refusing to start in production ({len(refused)} problems, see "
            f"`ovenai check-config`): {listed}"
        )
    return found


def _secret_value(settings: Settings, name: str) -> str | None:
    value = getattr(settings, name)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return None if value is None else str(value)


def _sandbox_values(settings: Settings) -> list[Problem]:
    found: list[Problem] = []
    if settings.whatsapp_phone_number_id == SANDBOX_PHONE_NUMBER_ID:
        found.append(
            Problem("WHATSAPP_PHONE_NUMBER_ID", "is the sandbox's number id, not a real number")
        )
    if settings.whatsapp_business_account_id == SANDBOX_BUSINESS_ACCOUNT_ID:
        found.append(
            Problem("WHATSAPP_BUSINESS_ACCOUNT_ID", "is the sandbox's WABA id, not a real one")
        )
    token = _secret_value(settings, "whatsapp_access_token")
    if token and token.startswith("sandbox-"):
        found.append(Problem("WHATSAPP_ACCESS_TOKEN", "is a sandbox token, not Meta's"))
    if settings.whatsapp_api_base_url.rstrip("/") != META_GRAPH_URL:
        found.append(
            Problem(
                "WHATSAPP_API_BASE_URL",
                f"is {settings.whatsapp_api_base_url}, not Meta's {META_GRAPH_URL} "
                "(the simulator?)",
            )
        )
    generated = _generated_secrets(settings)
    for name in GENERATED_SECRETS:
        value = _secret_value(settings, name)
        if value and generated.get(name) == value:
            found.append(
                Problem(env_name(name), f"is the sandbox's generated value ({SANDBOX_SECRETS})")
            )
    return found


def _generated_secrets(settings: Settings) -> dict[str, str]:
    path = settings.data_dir / SANDBOX_SECRETS
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, Mapping) else {}


def _secret_strength(settings: Settings) -> list[Problem]:
    key = _secret_value(settings, "secret_key")
    if key and len(key) < MIN_SECRET_KEY_CHARS:
        return [
            Problem(
                "OVENAI_SECRET_KEY",
                f"is shorter than {MIN_SECRET_KEY_CHARS} characters: generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`",
            )
        ]
    return []


def version_expiry(version: str) -> date | None:
    """The day Meta switches this Graph API version off (None: unknown or not announced)."""
    return GRAPH_VERSIONS.get(version)


def _version_problems(version: str, today: date) -> list[Problem]:
    newest = max(GRAPH_VERSIONS, key=lambda v: float(v[1:]))
    expiry = version_expiry(version)
    if version not in GRAPH_VERSIONS and float(version[1:]) < float(newest[1:]):
        return [Problem("WHATSAPP_API_VERSION", f"{version} has expired at Meta; use {newest}")]
    if expiry is None:
        return []
    if expiry <= today:
        return [
            Problem(
                "WHATSAPP_API_VERSION",
                f"{version} expired at Meta on {expiry.isoformat()}; use {newest}",
            )
        ]
    if (expiry - today).days <= EXPIRY_WARNING_DAYS:
        return [
            Problem(
                "WHATSAPP_API_VERSION",
                f"{version} expires at Meta on {expiry.isoformat()}; move to {newest} soon",
                warning=True,
            )
        ]
    return []


def _url_problems(field: str, url: str | None) -> list[Problem]:
    if not url:
        return []  # a missing required URL is reported with the other required settings
    name = env_name(field)
    parts = urlsplit(url)
    found: list[Problem] = []
    if parts.scheme != "https":
        found.append(Problem(name, f"is {url}: Meta and browsers need https://"))
    host = (parts.hostname or "").lower()
    if not host or host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        found.append(Problem(name, f"host {host or '(none)'} is not reachable from the internet"))
        return found
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return found
    if not address.is_global:
        found.append(Problem(name, f"host {host} is a private or loopback address, not public"))
    return found
