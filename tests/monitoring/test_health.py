"""/health (readiness: each check's state, figure and threshold) and /health/live."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from tests.outbox.conftest import WABA_ID

from ovenai import graph_check, health, heartbeats
from ovenai.cloudapi import CloudApiClient
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import JobLock
from ovenai.outbox.pause import pause_sending, resume_sending
from ovenai.settings import Settings


@pytest.mark.anyio
async def test_paused_sending_and_late_retention_make_it_degraded(
    db: Database, clean_db: Settings, client: CloudApiClient
) -> None:
    await heartbeats.beat(db, "worker-a", utcnow())  # a worker runs and Meta answers it
    await graph_check.run(db, client, waba_id=WABA_ID)
    quiet = await health.check(db, clean_db)
    assert quiet.status == "ok"
    assert quiet.checks["outbox"] == {"status": "ok", "oldest_due_age_s": None, "threshold_s": 900}
    assert quiet.checks["sending"]["paused"] is False

    await pause_sending(db, code=190, reason="Error validating access token")
    async with db.session() as session:
        session.add(JobLock(name="retention", last_run_at=utcnow() - timedelta(hours=30)))
        await session.commit()
    found = await health.check(db, clean_db)

    assert found.status == "degraded"
    assert found.checks["sending"]["status"] == "degraded"
    assert found.checks["retention"]["status"] == "degraded"
    assert found.checks["retention"]["last_run_age_s"] >= 30 * 3600
    await resume_sending(db)
    async with db.session() as session:  # leave nothing for tests that do not clean up
        await session.delete(await session.get(JobLock, "retention"))
        await session.commit()


def test_liveness_answers_and_readiness_lists_every_check(
    anonymous: httpx.Client, clean_db: Settings
) -> None:
    assert anonymous.get("/health/live").json() == {"status": "ok"}
    checks = anonymous.get("/health").json()["checks"]
    named = {"database", "encryption_keys", "outbox", "webhooks", "sending", "retention"}
    assert named | {"workers", "graph_api"} <= set(checks)
