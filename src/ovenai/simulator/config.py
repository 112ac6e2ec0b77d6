"""Settings of the Cloud API simulator (plain values; the control API may change some live)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

LIVE_VERSIONS = ("v21.0", "v22.0", "v23.0", "v24.0", "v25.0", "v26.0")
EXPIRED_VERSIONS = ("v17.0", "v18.0", "v19.0", "v20.0")


@dataclass
class SimulatorConfig:
    """Everything the simulator needs: identities, limits, webhook delivery, timings.

    ``mps_cap`` is the messages-per-second cap of the number (Meta's default is 80;
    ``None`` switches it off). ``pair_limit`` is ``None`` (off) or the number of messages
    one user may get within ``pair_window_s``. ``status_delays`` are the seconds after an
    accepted send at which ``sent``, ``delivered`` and ``read`` are delivered.
    """

    access_token: str = "sim-access-token"
    phone_number_id: str = "100000000000001"
    business_account_id: str = "200000000000001"
    app_secret: str = "sim-app-secret"
    webhook_url: str | None = None
    api_version: str = "v25.0"
    live_versions: tuple[str, ...] = LIVE_VERSIONS
    display_phone_number: str = "97233760000"
    # The account's go-live state (ovenai.simulator.account): a fresh production account
    # has the number unregistered and no app subscribed.
    verified_name: str = "OvenAI Sandbox"
    name_status: str = "APPROVED"
    quality_rating: str = "GREEN"
    registered: bool = True
    app_subscribed: bool = True
    permissions: tuple[str, ...] = ("whatsapp_business_messaging", "whatsapp_business_management")
    seed_templates: bool = True  # the seed's templates approved in the account from the start
    mps_cap: int | None = 80
    pair_limit: int | None = None
    pair_window_s: float = 6.0
    statuses: bool = True
    status_sample_rate: float = 1.0
    status_delays: tuple[float, float, float] = (0.05, 0.1, 0.2)
    read_receipts: bool = True
    webhook_batch_size: int = 1
    webhook_batch_wait_s: float = 0.02
    webhook_retry_attempts: int = 5
    webhook_retry_base_s: float = 0.2
    webhook_timeout_s: float = 5.0
    template_review_s: float | None = 2.0
    window_hours: float = 24.0
    outbox_limit: int = 100_000
    seed: int = 0
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def __post_init__(self) -> None:
        if self.api_version not in self.live_versions:
            raise ValueError(f"api_version {self.api_version} is not live: {self.live_versions}")
        if not 0.0 <= self.status_sample_rate <= 1.0:
            raise ValueError("status_sample_rate must lie in [0, 1]")


# Settings the control API may change while the simulator runs (POST /_sim/config).
LIVE_SETTINGS: frozenset[str] = frozenset(
    {
        "webhook_url",
        "mps_cap",
        "pair_limit",
        "pair_window_s",
        "statuses",
        "status_sample_rate",
        "status_delays",
        "read_receipts",
        "webhook_batch_size",
        "webhook_batch_wait_s",
        "webhook_retry_attempts",
        "webhook_retry_base_s",
        "webhook_timeout_s",
        "template_review_s",
        "window_hours",
        "verified_name",
        "name_status",
        "quality_rating",
        "registered",
        "app_subscribed",
        "permissions",
    }
)
