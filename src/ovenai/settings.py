"""Settings: one validated object built from the environment (and `.env`).

Built by :func:`load_settings`, never at import, so tests pass explicit values. A missing or
malformed setting raises :class:`~ovenai.errors.ConfigurationError` whose one-line message
names the variable and never echoes a secret.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ovenai.crypto import generate_master_key
from ovenai.errors import ConfigurationError

# Graph API versions Meta has already switched off (Meta: Graph API › Changelog › Versions).
EXPIRED_API_VERSIONS = frozenset(f"v{n}.0" for n in range(1, 21))
_VERSION_RE = re.compile(r"^v\d{2}\.0$")

_TIERS = {
    "250": "250",
    "2000": "2000",
    "2K": "2000",
    "10000": "10000",
    "10K": "10000",
    "100000": "100000",
    "100K": "100000",
    "UNLIMITED": "unlimited",
}

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SANDBOX_PHONE_NUMBER_ID = "100000000000001"
SANDBOX_BUSINESS_ACCOUNT_ID = "200000000000001"


class Environment(StrEnum):
    """Where the product runs: production refuses sandbox defaults and simulator routes."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every setting OvenAI reads (listed in docs/configuration.md), validated."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field("sqlite:///./var/ovenai.db", alias="DATABASE_URL")
    whatsapp_access_token: SecretStr | None = Field(None, alias="WHATSAPP_ACCESS_TOKEN")
    whatsapp_phone_number_id: str | None = Field(None, alias="WHATSAPP_PHONE_NUMBER_ID")
    whatsapp_business_account_id: str | None = Field(None, alias="WHATSAPP_BUSINESS_ACCOUNT_ID")
    whatsapp_app_secret: SecretStr | None = Field(None, alias="WHATSAPP_APP_SECRET")
    whatsapp_webhook_verify_token: SecretStr | None = Field(
        None, alias="WHATSAPP_WEBHOOK_VERIFY_TOKEN"
    )
    whatsapp_api_version: str = Field("v25.0", alias="WHATSAPP_API_VERSION")
    whatsapp_api_base_url: str = Field("https://graph.facebook.com", alias="WHATSAPP_API_BASE_URL")
    encryption_keys: SecretStr | None = Field(None, alias="OVENAI_ENCRYPTION_KEYS")
    secret_key: SecretStr | None = Field(None, alias="OVENAI_SECRET_KEY")
    keystore_url: str | None = Field(None, alias="OVENAI_KEYSTORE_URL")
    redis_url: str | None = Field(None, alias="REDIS_URL")
    environment: Environment = Field(Environment.DEVELOPMENT, alias="OVENAI_ENV")
    # Where people and Meta reach the product (https://crm.agency.co.il): Meta's webhook is
    # this + /api/webhooks/whatsapp. Production requires a public https URL (check-config).
    public_url: str | None = Field(None, pattern=r"^https?://\S+$", alias="OVENAI_PUBLIC_URL")
    data_dir: Path = Field(Path("var"), alias="OVENAI_DATA_DIR")
    timezone: str = Field("Asia/Jerusalem", alias="OVENAI_TIMEZONE")
    # Retention (the seed's policy): conversations 2 years, webhook logs 1 year, the audit
    # log 2 years, lead contact details a grace period after the relationship ended.
    retention_conversation_days: int = Field(730, ge=1, alias="OVENAI_RETENTION_CONVERSATION_DAYS")
    retention_webhook_days: int = Field(365, ge=1, alias="OVENAI_RETENTION_WEBHOOK_DAYS")
    retention_audit_days: int = Field(730, ge=1, alias="OVENAI_RETENTION_AUDIT_DAYS")
    retention_lead_grace_days: int = Field(180, ge=0, alias="OVENAI_RETENTION_LEAD_GRACE_DAYS")
    # Outbound dispatcher, within Meta's limits: throughput of the number, the portfolio's
    # messaging-limit tier (250, 2000, 10000, 100000 or unlimited), the pair limit to one
    # user (one message per interval, bursts borrow from later), sends in flight, and how long
    # a worker's claim on a message lasts (a dead worker's claims expire after it).
    messages_per_second: int = Field(80, ge=1, le=1000, alias="OVENAI_MESSAGES_PER_SECOND")
    messaging_tier: str = Field("2000", alias="OVENAI_MESSAGING_TIER")
    pair_interval_s: float = Field(6.0, gt=0, alias="OVENAI_PAIR_INTERVAL_S")
    pair_burst: int = Field(5, ge=1, le=45, alias="OVENAI_PAIR_BURST")
    worker_concurrency: int = Field(64, ge=1, le=1000, alias="OVENAI_WORKER_CONCURRENCY")
    worker_claim_ttl_s: float = Field(60.0, ge=1, alias="OVENAI_WORKER_CLAIM_TTL_S")
    # Whether `ovenai serve` also applies stored webhooks (single machine, sandbox). Turn it
    # off when `ovenai worker` runs: acknowledgements then get the server's core to themselves.
    webhook_process_in_serve: bool = Field(True, alias="OVENAI_WEBHOOK_PROCESS_IN_SERVE")
    # HTTP hardening: the largest request body any route reads (Meta's webhook path has its
    # own limit), who may read /api/metrics (a bearer token, or an address in the CIDR list),
    # and which proxies may set the client's address with X-Forwarded-For (none by default).
    max_body_bytes: int = Field(1024 * 1024, ge=1024, alias="OVENAI_MAX_BODY_BYTES")
    # Automation (ovenai.automation): the most automated messages one lead gets in 24 hours.
    automation_daily_cap: int = Field(3, ge=1, le=50, alias="OVENAI_AUTOMATION_DAILY_CAP")
    # The documents a lead is asked for when the stage becomes contract (document_request_*),
    # separated by ";": each is a line of the lead's checklist (document_checklist.py).
    documents_he: str = Field(
        "תעודת זהות; שלושה תלושי שכר אחרונים; אישור עקרוני למשכנתא",
        min_length=1,
        max_length=500,
        alias="OVENAI_DOCUMENTS_HE",
    )
    documents_en: str = Field(
        "your ID card; your last three pay slips; a mortgage pre-approval",
        min_length=1,
        max_length=500,
        alias="OVENAI_DOCUMENTS_EN",
    )
    metrics_token: SecretStr | None = Field(None, alias="OVENAI_METRICS_TOKEN")
    metrics_allow: str = Field("127.0.0.1/32,::1/128", alias="OVENAI_METRICS_ALLOW")
    worker_metrics_listen: str = Field(
        "", pattern=r"^(|\S+:\d{1,5})$", alias="OVENAI_WORKER_METRICS_LISTEN"
    )
    trusted_proxies: str = Field("", alias="OVENAI_TRUSTED_PROXIES")
    # Logging (ovenai.logs) of `serve` and `worker`: the level, console or JSON lines, and
    # the access log (method, route template, status, time; never a query string or an id).
    log_level: str = Field("INFO", alias="OVENAI_LOG_LEVEL")
    log_format: str = Field("console", pattern="^(console|json)$", alias="OVENAI_LOG_FORMAT")
    access_log: bool = Field(True, alias="OVENAI_ACCESS_LOG")
    # Monitoring (alert_rules.py, notifiers.py): who is told, how, how often an open alert is
    # repeated, and the thresholds of the rules that need one.
    alert_emails: str = Field("", alias="OVENAI_ALERT_EMAILS")
    alert_language: str = Field("he", pattern="^(he|en)$", alias="OVENAI_ALERT_LANGUAGE")
    alert_repeat_minutes: int = Field(60, ge=1, alias="OVENAI_ALERT_REPEAT_MINUTES")
    alert_failure_rate: float = Field(0.02, gt=0, lt=1, alias="OVENAI_ALERT_FAILURE_RATE")
    alert_failure_window_minutes: int = Field(15, ge=1, alias="OVENAI_ALERT_FAILURE_WINDOW_MINUTES")
    alert_failure_min_messages: int = Field(20, ge=1, alias="OVENAI_ALERT_FAILURE_MIN_MESSAGES")
    alert_outbox_stuck_minutes: int = Field(15, ge=1, alias="OVENAI_ALERT_OUTBOX_STUCK_MINUTES")
    alert_delivery_rate: float = Field(0.95, gt=0, lt=1, alias="OVENAI_ALERT_DELIVERY_RATE")
    alert_delivery_window_minutes: int = Field(
        60, ge=1, alias="OVENAI_ALERT_DELIVERY_WINDOW_MINUTES"
    )
    alert_delivery_grace_minutes: int = Field(10, ge=0, alias="OVENAI_ALERT_DELIVERY_GRACE_MINUTES")
    alert_delivery_min_messages: int = Field(50, ge=1, alias="OVENAI_ALERT_DELIVERY_MIN_MESSAGES")
    alert_graph_p95_seconds: float = Field(5.0, gt=0, alias="OVENAI_ALERT_GRAPH_P95_SECONDS")
    alert_graph_window_minutes: int = Field(5, ge=1, alias="OVENAI_ALERT_GRAPH_WINDOW_MINUTES")
    alert_graph_min_calls: int = Field(20, ge=1, alias="OVENAI_ALERT_GRAPH_MIN_CALLS")
    alert_first_response_minutes: int = Field(30, ge=1, alias="OVENAI_ALERT_FIRST_RESPONSE_MINUTES")
    working_days: str = Field(
        "sun,mon,tue,wed,thu",
        pattern=r"^(sun|mon|tue|wed|thu|fri|sat)(,(sun|mon|tue|wed|thu|fri|sat))*$",
        alias="OVENAI_WORKING_DAYS",
    )
    working_hours: str = Field(
        "08:00-19:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$",
        alias="OVENAI_WORKING_HOURS",
    )
    # Quiet times for marketing messages (ovenai.quiet_hours), in Israel's time: nights,
    # Shabbat and Yom Tov from candle lighting (minutes before sunset) to nightfall; what
    # waited becomes due spread over a few minutes.
    quiet_nights: bool = Field(True, alias="OVENAI_QUIET_NIGHTS")
    quiet_night_hours: str = Field(
        "21:00-08:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$",
        alias="OVENAI_QUIET_NIGHT_HOURS",
    )
    quiet_shabbat: bool = Field(True, alias="OVENAI_QUIET_SHABBAT")
    quiet_holidays: bool = Field(True, alias="OVENAI_QUIET_HOLIDAYS")
    quiet_candle_lighting_minutes: int = Field(
        40, ge=0, le=120, alias="OVENAI_QUIET_CANDLE_LIGHTING_MINUTES"
    )
    quiet_spread_minutes: int = Field(10, ge=0, le=120, alias="OVENAI_QUIET_SPREAD_MINUTES")
    smtp_host: str | None = Field(None, alias="OVENAI_SMTP_HOST")
    smtp_port: int = Field(587, ge=1, le=65535, alias="OVENAI_SMTP_PORT")
    smtp_user: str | None = Field(None, alias="OVENAI_SMTP_USER")
    smtp_password: SecretStr | None = Field(None, alias="OVENAI_SMTP_PASSWORD")
    smtp_from: str = Field("ovenai@localhost", alias="OVENAI_SMTP_FROM")
    smtp_starttls: bool = Field(True, alias="OVENAI_SMTP_STARTTLS")
    slack_webhook_url: SecretStr | None = Field(None, alias="OVENAI_SLACK_WEBHOOK_URL")
    # The public webhook URL as Meta reaches it: a worker posts a signed test body to it
    # every 5 minutes (webhook_probe.py); empty turns the probe and its alert off.
    webhook_probe_url: str | None = Field(
        None, pattern=r"^https?://\S+$", alias="OVENAI_WEBHOOK_PROBE_URL"
    )
    # Inbound media (ovenai.media): 100 MB is Meta's own ceiling for documents.
    media_max_bytes: int = Field(100 * 1024 * 1024, ge=1, alias="OVENAI_MEDIA_MAX_BYTES")
    media_dir: Path | None = Field(None, alias="OVENAI_MEDIA_DIR")
    # Every erasure's lead id and time, appended (ovenai.erasure_journal): kept apart from the
    # backups, it erases again after a restore whom a backup brought back. Default: the
    # data directory's erasures.journal.
    erasure_journal: Path | None = Field(None, alias="OVENAI_ERASURE_JOURNAL")
    media_s3_bucket: str | None = Field(None, alias="OVENAI_MEDIA_S3_BUCKET")
    media_s3_endpoint_url: str | None = Field(None, alias="OVENAI_MEDIA_S3_ENDPOINT_URL")
    media_s3_region: str = Field("us-east-1", alias="OVENAI_MEDIA_S3_REGION")
    media_s3_access_key_id: str | None = Field(None, alias="OVENAI_MEDIA_S3_ACCESS_KEY_ID")
    media_s3_secret_access_key: SecretStr | None = Field(
        None, alias="OVENAI_MEDIA_S3_SECRET_ACCESS_KEY"
    )
    sandbox: bool = False

    @field_validator("metrics_allow", "trusted_proxies")
    @classmethod
    def _cidr_list(cls, value: str) -> str:
        for item in _split(value):
            try:
                ipaddress.ip_network(item)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an address or CIDR") from exc
        return value

    @property
    def alert_email_list(self) -> list[str]:
        """The addresses alerts are e-mailed to (none: no e-mail is sent)."""
        return _split(self.alert_emails)

    @property
    def metrics_networks(self) -> list[IPNetwork]:
        """The networks whose clients may read /api/metrics without the token."""
        return [ipaddress.ip_network(item, strict=False) for item in _split(self.metrics_allow)]

    @property
    def trusted_proxy_list(self) -> list[str]:
        """The proxies (addresses or CIDRs) whose X-Forwarded-For is believed."""
        return _split(self.trusted_proxies)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be one of debug, info, warning, error, critical")
        return level

    @field_validator("whatsapp_api_version")
    @classmethod
    def _current_version(cls, value: str) -> str:
        if not _VERSION_RE.match(value):
            raise ValueError("must look like v25.0")
        if value in EXPIRED_API_VERSIONS:
            raise ValueError(f"{value} has expired at Meta; use v21.0 or newer")
        return value

    @field_validator("whatsapp_api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("database_url", "keystore_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("messaging_tier")
    @classmethod
    def _known_tier(cls, value: str) -> str:
        tier = _TIERS.get(value.strip().upper().removeprefix("TIER_"))
        if tier is None:
            raise ValueError("must be one of 250, 2000, 10000, 100000, unlimited")
        return tier

    @property
    def messaging_limit(self) -> int | None:
        """Unique users reachable outside a service window per rolling 24 h (None: no limit)."""
        return None if self.messaging_tier == "unlimited" else int(self.messaging_tier)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The agency's time zone, used to show times."""
        return ZoneInfo(self.timezone)

    def secret(self, name: str) -> str:
        """The plain value of a secret setting; raises when it is not configured."""
        value = getattr(self, name)
        if value is None:
            raise ConfigurationError(f"{_env_name(name)} is not set")
        return str(value.get_secret_value())


def _split(value: str) -> list[str]:
    """A comma-separated setting as its non-empty items."""
    return [item.strip() for item in value.split(",") if item.strip()]


def _env_name(field: str) -> str:
    info = Settings.model_fields[field]
    return str(info.alias or field.upper())


SANDBOX_SECRETS = "sandbox-secrets.json"
SANDBOX_URLS = "sandbox-urls.json"
SANDBOX_PORT = 8000
"""`make run`'s port; its simulator listens on the next one unless told otherwise."""


def sandbox_simulator_url(data_dir: Path) -> str:
    """Where the checkout's sandbox serves its simulator: as its last start recorded it
    (:func:`record_sandbox_urls`), else `make run`'s default port."""
    path = data_dir / SANDBOX_URLS
    try:
        recorded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return str(recorded["simulator"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"http://127.0.0.1:{SANDBOX_PORT + 1}"


def record_sandbox_urls(data_dir: Path, *, product: str, simulator: str) -> None:
    """Note where a starting sandbox listens, for the checkout's commands to find it."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / SANDBOX_URLS
    partial = path.with_suffix(".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"product": product, "simulator": simulator}, handle)
    partial.replace(path)


def load_settings(
    *, sandbox: bool = False, sandbox_checkout: bool = False, **overrides: Any
) -> Settings:
    """Build and validate the settings; sandbox mode fills missing secrets from `var/`.

    With ``sandbox_checkout`` (the operator's commands), a development checkout where
    `make run` generated the sandbox's secrets and nothing else is configured reads those,
    so `ovenai users create`, `privacy ...` and the rest work against the sandbox with no
    variables set; production never does.
    """
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None
    checkout = not sandbox and sandbox_checkout and _is_sandbox_checkout(settings)
    sandbox = sandbox or checkout
    settings.sandbox = sandbox
    if sandbox:
        if settings.environment is Environment.PRODUCTION:
            raise ConfigurationError("sandbox mode refuses to start with OVENAI_ENV=production")
        _fill_sandbox_defaults(settings)
    if checkout and "whatsapp_api_base_url" not in settings.model_fields_set:
        # The sandbox's token is for its simulator only: never send it to Meta.
        settings.whatsapp_api_base_url = sandbox_simulator_url(settings.data_dir)
    _require(settings, "encryption_keys", "secret_key")
    _place_keystore(settings)
    return settings


def _is_sandbox_checkout(settings: Settings) -> bool:
    """No keys configured, not production, and the sandbox's generated secrets exist."""
    unset = settings.encryption_keys is None and settings.secret_key is None
    return (
        unset
        and settings.environment is not Environment.PRODUCTION
        and (settings.data_dir / SANDBOX_SECRETS).is_file()
    )


def _place_keystore(settings: Settings) -> None:
    """Keys live apart from the data; production must say where, explicitly."""
    if settings.keystore_url is None:
        if settings.environment is Environment.PRODUCTION:
            raise ConfigurationError("OVENAI_KEYSTORE_URL is not set (required in production)")
        settings.keystore_url = f"sqlite:///{settings.data_dir / 'keys.db'}"
    if settings.keystore_url == settings.database_url:
        raise ConfigurationError("OVENAI_KEYSTORE_URL must not be the DATABASE_URL")


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = error["loc"][0] if error["loc"] else "?"
    field = str(loc)
    name = _env_name(field) if field in Settings.model_fields else field
    return f"{name} is malformed: {error['msg']}"


def _require(settings: Settings, *names: str) -> None:
    for name in names:
        if getattr(settings, name) is None:
            raise ConfigurationError(f"{_env_name(name)} is not set")


def _fill_sandbox_defaults(settings: Settings) -> None:
    """Use set variables as given; fill only unset ones with stable sandbox values."""
    stored = _sandbox_secrets(settings.data_dir)
    for name in ("whatsapp_access_token", "whatsapp_app_secret", "whatsapp_webhook_verify_token"):
        if getattr(settings, name) is None:
            setattr(settings, name, SecretStr(stored[name]))
    if settings.encryption_keys is None:
        settings.encryption_keys = SecretStr(stored["encryption_keys"])
    if settings.secret_key is None:
        settings.secret_key = SecretStr(stored["secret_key"])
    settings.whatsapp_phone_number_id = settings.whatsapp_phone_number_id or SANDBOX_PHONE_NUMBER_ID
    settings.whatsapp_business_account_id = (
        settings.whatsapp_business_account_id or SANDBOX_BUSINESS_ACCOUNT_ID
    )


def _sandbox_secrets(data_dir: Path) -> dict[str, str]:
    """Read, or create once with owner-only permissions, the sandbox's generated secrets."""
    path = data_dir / SANDBOX_SECRETS
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    values = {
        "whatsapp_access_token": "sandbox-" + secrets.token_urlsafe(24),
        "whatsapp_app_secret": secrets.token_hex(16),
        "whatsapp_webhook_verify_token": secrets.token_urlsafe(16),
        "encryption_keys": generate_master_key(),
        "secret_key": secrets.token_urlsafe(32),
    }
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(values, handle)
    return values
