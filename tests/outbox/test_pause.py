"""The sending pause: one flag for every worker, each worker asking for it now and then."""

from __future__ import annotations

import asyncio

import pytest

from ovenai.alerts import open_alerts
from ovenai.db import Database
from ovenai.outbox.pause import (
    PAUSE_CHECK_S,
    PAUSE_RECHECK_S,
    TOKEN_ALERT,
    PauseCache,
    pause_sending,
    resume_if_new_token,
    resume_sending,
    token_fingerprint,
)

pytestmark = pytest.mark.anyio
REJECTED = "Error validating access token"


async def _token_alerts(db: Database) -> list[str]:
    async with db.session() as session:
        found = [alert for alert in await open_alerts(session) if alert.kind == TOKEN_ALERT]
    for alert in found:  # said in both languages
        assert "WHATSAPP_ACCESS_TOKEN" in alert.message and "מושהית" in (alert.message_he or "")
    return [alert.severity for alert in found]


async def test_a_worker_started_with_a_new_token_lifts_the_pause_of_the_old_one(
    db: Database,
) -> None:
    await pause_sending(db, code=190, reason=REJECTED, token=token_fingerprint("old-token"))

    assert not await resume_if_new_token(db, "old-token")  # the token Meta rejected
    assert await PauseCache(db).paused() and await _token_alerts(db) == ["critical"]
    assert await resume_if_new_token(db, "new-token")
    assert not await PauseCache(db).paused() and await _token_alerts(db) == []


async def test_another_workers_pause_reaches_a_worker_within_the_check_interval(
    db: Database,
) -> None:
    cache = PauseCache(db)
    assert not await cache.paused()

    await pause_sending(db, code=190, reason=REJECTED)  # another worker met the bad token

    assert not await cache.paused()  # "not paused" is trusted a while: no query per claim
    await asyncio.sleep(PAUSE_CHECK_S)
    assert await cache.paused()


async def test_a_paused_worker_sees_the_resume_within_the_recheck_interval(
    db: Database,
) -> None:
    cache = PauseCache(db)
    await cache.pause(code=190, reason=REJECTED)

    assert await resume_sending(db)

    assert await cache.paused()  # it does not ask while it knows it is paused
    await asyncio.sleep(PAUSE_RECHECK_S)
    assert not await cache.paused()
    assert not await resume_sending(db)  # nothing left to lift
