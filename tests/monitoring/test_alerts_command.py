"""`ovenai alerts list|ack|test` as an operator runs it: a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from monitoring.conftest import Inbox
from ovenai import alerts
from ovenai.db import open_database
from ovenai.models import Alert
from ovenai.settings import Settings
from support.aio import run_async

OVENAI = str(Path(sys.executable).with_name("ovenai"))


def run(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "OVENAI_KEYSTORE_URL": str(settings.keystore_url),
        "OVENAI_ENCRYPTION_KEYS": settings.secret("encryption_keys"),
        "OVENAI_SECRET_KEY": settings.secret("secret_key"),
        **env,
    }
    return subprocess.run(
        [OVENAI, *args], capture_output=True, text=True, env=environment, timeout=60, check=False
    )


def _raise(settings: Settings) -> str:
    async def work() -> str:
        db = open_database(settings)
        try:
            await db.start()
            async with db.session() as session:
                await alerts.raise_alert(
                    session,
                    kind="outbox_stuck",
                    severity="warning",
                    said=alerts.Said("oldest 20 min", "20 דקות"),
                )
                await session.commit()
                return str(await session.scalar(select(Alert.id)))
        finally:
            await db.dispose()

    return run_async(work)


def test_alerts_are_listed_and_acknowledged(clean_db: Settings) -> None:
    assert run(clean_db, "alerts", "list").stdout.strip() == "no open alerts"
    alert_id = _raise(clean_db)
    listed = run(clean_db, "alerts", "list").stdout
    assert alert_id in listed and "outbox_stuck" in listed and "open" in listed
    acked = run(clean_db, "alerts", "ack", alert_id)
    assert (
        acked.returncode == 0 and acked.stdout.strip() == f"acknowledged {alert_id} (outbox_stuck)"
    )
    assert "acknowledged" in run(clean_db, "alerts", "list").stdout
    unknown = run(clean_db, "alerts", "ack", "no-such-alert")
    assert unknown.returncode != 0 and unknown.stderr.startswith("error:")


def test_the_test_notification_reaches_the_configured_mailbox(
    clean_db: Settings, smtp: tuple[Inbox, int]
) -> None:
    nothing = run(clean_db, "alerts", "test")
    assert nothing.returncode == 1 and "no notifier is configured" in nothing.stdout
    inbox, port = smtp
    sent = run(
        clean_db,
        "alerts",
        "test",
        OVENAI_SMTP_HOST="127.0.0.1",
        OVENAI_SMTP_PORT=str(port),
        OVENAI_SMTP_STARTTLS="false",
        OVENAI_ALERT_EMAILS="owner@example.com",
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip().startswith("email: sent")
    assert len(inbox.messages) == 1 and inbox.messages[0]["To"] == "owner@example.com"
