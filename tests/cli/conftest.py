"""The `ovenai` command line against the test database and the simulator on loopback.

Command groups run in-process through Typer's runner (fast, real database, real HTTP);
the servers (`serve --sandbox`, `simulator`) run as real processes in their own tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ovenai.cli import app
from ovenai.settings import Settings
from ovenai.simulator import SimulatorConfig, SimulatorThread
from support.simulator import simulator  # noqa: F401  (a fixture these tests use)

Run = Callable[..., Result]
SIM = SimulatorConfig(
    access_token="cli-token",
    phone_number_id="420000000000003",
    business_account_id="310000000000001",
    app_secret="cli-app-secret",
    template_review_s=None,
)
OURS = ("OVENAI_", "WHATSAPP_", "DATABASE_URL", "REDIS_URL")


def clean_environment(**values: str) -> dict[str, str | None]:
    """Unset every OvenAI or WhatsApp setting of this process, then set ``values``."""
    unset: dict[str, str | None] = {key: None for key in os.environ if key.startswith(OURS)}
    return unset | values


@pytest.fixture(scope="session")
def sim_config() -> SimulatorConfig:
    """The simulator the commands talk to (WHATSAPP_* below)."""
    return SIM


@pytest.fixture
def ovenai(
    clean_db: Settings,
    simulator: SimulatorThread,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Run:
    """Run `ovenai ARGS` against the test database and the simulator (cwd: a tmp dir)."""
    monkeypatch.chdir(tmp_path)  # no stray .env, var/ in the tmp dir
    environment = clean_environment(
        DATABASE_URL=clean_db.database_url,
        OVENAI_KEYSTORE_URL=str(clean_db.keystore_url),
        OVENAI_ENCRYPTION_KEYS=clean_db.secret("encryption_keys"),
        OVENAI_SECRET_KEY=clean_db.secret("secret_key"),
        OVENAI_DATA_DIR=str(tmp_path / "var"),
        WHATSAPP_ACCESS_TOKEN=SIM.access_token,
        WHATSAPP_PHONE_NUMBER_ID=SIM.phone_number_id,
        WHATSAPP_BUSINESS_ACCOUNT_ID=SIM.business_account_id,
        WHATSAPP_API_BASE_URL=simulator.base_url,
    )

    def run(*args: str, **extra: str | None) -> Result:
        return CliRunner().invoke(app, list(args), env=environment | extra)

    return run
