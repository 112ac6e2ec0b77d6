"""The webhook probe: a signed test body through the real server's public webhook path, then
applied by the processor; the alert rule ``webhook_silence`` and /health read the outcome."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import time_machine
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import func, select
from tests.conftest import LiveServer, free_port

from ovenai import alert_rules, health, webhook_probe
from ovenai.alerts import open_alerts
from ovenai.db import Database
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.ingest.processor import Processor
from ovenai.models import Alert, Lead, Message
from ovenai.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def black_hole() -> AsyncIterator[str]:
    """A front door that answers 200 and passes nothing on (a proxy's maintenance page, a
    server on another database): bodies are "accepted" and never applied."""
    app = web.Application()
    app.router.add_post(WEBHOOK_PATH, _ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    await runner.cleanup()


async def _ok(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def _probing(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"webhook_probe_url": url})


async def _open(db: Database, *, hebrew: bool = False) -> dict[str, str]:
    async with db.session() as session:
        found = await open_alerts(session)
        return {
            alert.kind: (alert.message_he if hebrew else alert.message) or "" for alert in found
        }


async def _send(db: Database, settings: Settings) -> webhook_probe.Sent:
    async with httpx.AsyncClient() as client:
        return await webhook_probe.send(db, settings, client=client)


async def test_a_probe_goes_through_the_server_is_applied_and_nothing_fires(
    db: Database, clean_db: Settings, server: LiveServer
) -> None:
    settings = _probing(clean_db, server.url + WEBHOOK_PATH)

    sent = await _send(db, settings)
    await Processor(db).drain()

    assert sent.status == 200
    # The session's server runs a processor of its own, which may have claimed the body and
    # still be applying it when ours finds nothing left: wait for whoever applies it.
    deadline = time.monotonic() + 15
    while True:
        async with db.session() as session:
            newest_sent, seen = await webhook_probe.newest(session)
        if seen is not None or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    async with db.session() as session:
        leads = await session.scalar(select(func.count()).select_from(Lead))
        messages = await session.scalar(select(func.count()).select_from(Message))
        alerts = await session.scalar(select(func.count()).select_from(Alert))
    assert newest_sent == sent
    assert seen is not None and seen.nonce == sent.nonce
    assert (leads, messages, alerts) == (0, 0, 0)  # a probe is nobody's message
    evaluation = await alert_rules.evaluate(db, settings)
    assert alert_rules.WEBHOOK_SILENCE not in evaluation.holding
    probe = (await health.check(db, settings)).checks["webhook_probe"]
    assert probe["status"] == "ok" and probe["configured"] is True


async def test_a_probe_signed_with_the_wrong_secret_is_refused_and_the_alert_fires(
    db: Database, clean_db: Settings, server: LiveServer
) -> None:
    settings = _probing(clean_db, server.url + WEBHOOK_PATH).model_copy(
        update={"whatsapp_app_secret": SecretStr("not-the-app-secret")}
    )

    sent = await _send(db, settings)
    evaluation = await alert_rules.evaluate(db, settings)

    assert sent.status in (401, 403)
    assert alert_rules.WEBHOOK_SILENCE in evaluation.holding
    message = (await _open(db))[alert_rules.WEBHOOK_SILENCE]
    assert f"HTTP {sent.status}" in message
    hebrew = (await _open(db, hebrew=True))[alert_rules.WEBHOOK_SILENCE]
    assert f"HTTP {sent.status}" in hebrew and "WHATSAPP_APP_SECRET" in hebrew
    assert "webhook" in hebrew and "כנראה" in hebrew
    assert "not-the-app-secret" not in message
    probe = (await health.check(db, settings)).checks["webhook_probe"]
    assert probe["status"] == "degraded" and "HTTP" in str(probe["warning"])


async def test_nobody_listening_fires_with_no_answer(db: Database, clean_db: Settings) -> None:
    settings = _probing(clean_db, f"http://127.0.0.1:{free_port()}{WEBHOOK_PATH}")

    sent = await _send(db, settings)
    evaluation = await alert_rules.evaluate(db, settings)

    assert sent.status is None and "ConnectError" in sent.reason
    assert alert_rules.WEBHOOK_SILENCE in evaluation.holding
    assert "no answer" in (await _open(db))[alert_rules.WEBHOOK_SILENCE]
    assert "אין תשובה" in (await _open(db, hebrew=True))[alert_rules.WEBHOOK_SILENCE]


async def test_accepted_but_never_applied_fires_after_the_grace_and_the_next_probe_resolves(
    db: Database, clean_db: Settings, black_hole: str, server: LiveServer
) -> None:
    settings = _probing(clean_db, black_hole)
    sent = await _send(db, settings)
    assert sent.status == 200

    on_its_way = await alert_rules.evaluate(db, settings)
    later = sent.sent_at + timedelta(seconds=webhook_probe.GRACE_S + 1)
    with time_machine.travel(later, tick=False):
        stuck = await alert_rules.evaluate(db, settings)
        message = (await _open(db))[alert_rules.WEBHOOK_SILENCE]
    mended = _probing(clean_db, server.url + WEBHOOK_PATH)  # the proxy is fixed
    with time_machine.travel(sent.sent_at + timedelta(seconds=webhook_probe.EVERY_S)):
        await _send(db, mended)
        await Processor(db).drain()
        applied = await alert_rules.evaluate(db, mended)

    assert alert_rules.WEBHOOK_SILENCE not in on_its_way.holding
    assert alert_rules.WEBHOOK_SILENCE in stuck.holding
    assert "not applied" in message
    assert alert_rules.WEBHOOK_SILENCE not in applied.holding
    assert alert_rules.WEBHOOK_SILENCE not in await _open(db)


async def test_a_new_probe_on_its_way_does_not_close_an_open_alert(
    db: Database, clean_db: Settings, black_hole: str, server: LiveServer
) -> None:
    first = await _send(db, _probing(clean_db, server.url + WEBHOOK_PATH))
    await Processor(db).drain()
    settings = _probing(clean_db, black_hole)
    second = await _send(db, settings)  # accepted, never applied from here on

    after_second = second.sent_at + timedelta(seconds=webhook_probe.GRACE_S + 1)
    with time_machine.travel(after_second, tick=False):
        stuck = await alert_rules.evaluate(db, settings)
    async with db.session() as session:
        _sent, seen = await webhook_probe.newest(session)
    # Five minutes on, a third probe leaves; while it is on its way the alert stays.
    third_at = second.sent_at + timedelta(seconds=webhook_probe.EVERY_S)
    with time_machine.travel(third_at, tick=False):
        await _send(db, settings)
        still = await alert_rules.evaluate(db, settings)

    assert seen is not None and seen.nonce == first.nonce
    assert alert_rules.WEBHOOK_SILENCE in stuck.holding
    assert alert_rules.WEBHOOK_SILENCE in still.holding
    assert (
        "No webhook test body has been applied since"
        in (await _open(db))[alert_rules.WEBHOOK_SILENCE]
    )


async def test_without_a_url_there_is_no_probe_and_no_alert(
    db: Database, clean_db: Settings
) -> None:
    evaluation = await alert_rules.evaluate(db, clean_db)

    assert not webhook_probe.configured(clean_db)
    assert alert_rules.WEBHOOK_SILENCE not in evaluation.holding
    assert (await health.check(db, clean_db)).checks["webhook_probe"] == {
        "status": "ok",
        "configured": False,
    }
    with pytest.raises(ValueError, match="OVENAI_WEBHOOK_PROBE_URL"):
        await _send(db, clean_db)


def test_the_public_url_names_the_webhook_when_no_probe_url_is_given(clean_db: Settings) -> None:
    public = clean_db.model_copy(update={"public_url": "https://crm.example.co.il/"})
    explicit = public.model_copy(update={"webhook_probe_url": "https://edge.example.co.il/hook"})

    assert webhook_probe.target(public) == "https://crm.example.co.il" + WEBHOOK_PATH
    assert webhook_probe.target(explicit) == "https://edge.example.co.il/hook"
    assert webhook_probe.configured(public) and not webhook_probe.configured(clean_db)
