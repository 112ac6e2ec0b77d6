"""Monitoring tests: the simulator (for faults), a loopback SMTP server and Slack receiver."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr
from tests.outbox.conftest import SIM

from ovenai.settings import Settings
from ovenai.simulator import SimulatorConfig
from support.simulator import (  # noqa: F401  (fixtures used by these tests)
    client,
    control,
    fresh_simulator,
    http,
    reset_before_each_test,
    simulator,
)
from support.smtp import Inbox, smtp  # noqa: F401  (a fixture these tests use)


@pytest.fixture(scope="session")
def sim_config() -> SimulatorConfig:
    """The outbox tests' simulator: no throughput cap, no status webhooks."""
    return SIM


@dataclass
class SlackReceiver:
    """A stand-in Slack incoming webhook on 127.0.0.1; ``status`` is what it answers."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.posts.append(json.loads(await request.read()))
        return web.Response(status=self.status, text="ok")

    def texts(self) -> list[str]:
        return [str(post["text"]) for post in self.posts]


@pytest.fixture
async def slack() -> AsyncIterator[SlackReceiver]:
    receiver = SlackReceiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    yield receiver
    await runner.cleanup()
    await asyncio.sleep(0)


@pytest.fixture
def alert_settings(
    clean_db: Settings,
    smtp: tuple[Inbox, int],  # noqa: F811  (the fixture imported above)
    slack: SlackReceiver,
) -> Settings:
    """The session's settings with both notifiers pointing at the loopback receivers."""
    return clean_db.model_copy(
        update={
            "alert_emails": "owner@example.com,ops@example.com",
            "alert_language": "en",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp[1],
            "smtp_starttls": False,
            "slack_webhook_url": SecretStr(slack.url),
            "alert_repeat_minutes": 60,
            # Leads here wrote an hour ago: the first-response rule (its own tests) stays out.
            "alert_first_response_minutes": 7 * 24 * 60,
        }
    )
