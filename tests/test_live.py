"""Waiting pages are woken for their own lead's changes (``ovenai.live``): PostgreSQL's
NOTIFY with the lead ids at commit, SQLite's data_version for any commit."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
import uvicorn
from sqlalchemy import text

from ovenai import dialects, live
from ovenai.cli.serving import StoppingServer
from ovenai.db import Database

pytestmark = pytest.mark.anyio
SOON_S = 5.0  # how long a wake may take here before the test calls it lost


def test_many_leads_are_announced_in_pieces_under_postgresqls_limit() -> None:
    ids = [f"{n:08d}-0000-7000-8000-000000000000" for n in range(700)]
    pieces = live._pieces(ids)
    assert len(pieces) > 1
    assert all(len(piece.encode()) < 8000 for piece in pieces)
    assert [lead for piece in pieces for lead in piece.split(",")] == ids
    assert live._pieces([]) == []


async def test_a_page_is_told_of_its_own_lead_only_and_looks_no_sooner_than_its_hold() -> None:
    changes = live.Changes()
    with changes.listen("lead-a") as mine, changes.listen("lead-b") as other:
        assert changes.waiting == 2
        started = time.monotonic()
        changes.heard("lead-x,lead-a")
        assert await mine.next(5) is True
        assert time.monotonic() - started >= live.LOOK_EVERY_S - 0.06  # held the rest
        assert await other.next(0.3) is False  # never told: its wait ran out
        assert await mine.next(0.3) is False  # told once, looked once

        changes.heard("lead-a")
        assert await mine.next(5) is True
        looked = time.monotonic()
        changes.heard("")  # SQLite: any commit may concern anyone
        assert await mine.next(5) is True and await other.next(5) is True
        # Told only that something changed, a page looks less often after its last look.
        assert time.monotonic() - looked >= live.LOOK_ANY_S - 0.06
    assert changes.waiting == 0


async def test_a_change_told_before_the_page_waits_is_not_lost() -> None:
    """The page listens before it reads its version: a change committed between that read
    and its wait is still news when it waits."""
    changes = live.Changes()
    with changes.listen("lead-a") as told:
        changes.heard("lead-a")  # while the page was reading its version
        assert await told.next(1) is True


async def test_a_committed_announcement_wakes_the_lead_and_a_rolled_back_one_does_not(
    db: Database,
) -> None:
    changes = live.Changes()
    changes.start(db.url)
    await asyncio.sleep(0.3)  # listening (or its first data_version read) before we write
    try:
        with changes.listen("lead-a") as told:
            if dialects.name_of(db.dialect) == "postgresql":
                async with db.session() as session:
                    await live.announce(session, {"lead-a"})
                    await session.rollback()
                assert await told.next(0.5) is False  # a rolled-back NOTIFY is never delivered
                async with db.session() as session:
                    await live.announce(session, {"lead-b"})
                    await session.commit()
                assert await told.next(1.0) is False  # another lead's news
            async with db.session() as session:
                await session.execute(text("CREATE TABLE IF NOT EXISTS live_probe (n INTEGER)"))
                await session.execute(text("INSERT INTO live_probe VALUES (1)"))
                await live.announce(session, {"lead-a"})
                await session.commit()
            assert await told.next(SOON_S) is True
    finally:
        await changes.stop()


async def test_a_stopping_process_answers_its_waiting_pages_at_once() -> None:
    """On SIGTERM `ovenai serve` tells its pages to stop waiting (else uvicorn would wait
    for each held question, up to 25 s, before it stops); a question asked after that
    does not wait either."""
    changes = live.Changes()
    changes.start("sqlite://")  # a private database: nothing will ever wake the pages
    try:
        with changes.listen("lead-a") as told:
            waiting = asyncio.create_task(told.next(20))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            changes.close_soon()  # as from the signal handler
            assert await waiting is False
            assert time.monotonic() - started < 5
        with changes.listen("lead-b") as late:
            assert await asyncio.wait_for(late.next(20), 5) is False
    finally:
        await changes.stop()


def test_the_server_tells_the_app_when_it_is_asked_to_stop() -> None:
    told: list[str] = []
    server = StoppingServer(uvicorn.Config(app=None))
    server.on_exit = lambda: told.append("stopping")
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit and told == ["stopping"]
