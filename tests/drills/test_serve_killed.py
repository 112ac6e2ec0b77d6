"""Drill: ``ovenai serve`` killed (SIGKILL) between storing webhooks and applying them.

Serve applies the bodies it stores in-process (``OVENAI_WEBHOOK_PROCESS_IN_SERVE``, the
default) and no worker runs, so under a burst of signed posts from new senders the bodies it
acknowledged wait in ``webhook_events`` for its own processor. Once some are seen waiting,
serve is killed with SIGKILL, and started again on the same port; Meta's side keeps posting
throughout, and posts each body until it is answered 200 (a post the kill cut off gets no
answer and is posted again, as Meta does).

Counted: at each kill, stored bodies were waiting (the kill fell between store and
processing); every answer is 200 or none at all (the dead process), never a 500 or 503;
afterwards no stored body is pending or failed, every body answered 200 was applied exactly
once (its message stored once, each sender one lead).
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from drills.product import (
    Answers,
    environment,
    free_port,
    inbound_body,
    post_until_stored,
    report,
    start,
    wait_until_live,
)
from ovenai import dialects
from ovenai.db import Database
from ovenai.settings import Settings

pytestmark = pytest.mark.anyio
SETTLE_S = 120.0
PENDING = text("SELECT count(*) FROM webhook_events WHERE status = 'pending'")
STORED = text("SELECT status, count(*) FROM webhook_events GROUP BY status")
INBOUND = text(
    "SELECT wa_message_id, count(*) FROM messages WHERE direction = 'inbound'"
    " GROUP BY wa_message_id"
)


@dataclass(frozen=True)
class Plan:
    """How many kills, and the load: posting threads and how many must wait before a kill."""

    kills: int
    posters: int
    waiting_before_kill: int
    after_s: float


SHORT = Plan(kills=1, posters=6, waiting_before_kill=10, after_s=1.0)
LONG = Plan(kills=5, posters=8, waiting_before_kill=50, after_s=3.0)


@dataclass
class Load:
    """What Meta's side did."""

    answers: Answers = field(default_factory=Answers)
    acknowledged: list[str] = field(default_factory=list)
    unfinished: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _post(url: str, load: Load, stop: threading.Event, n: int) -> None:
    """A new sender's first message, again and again, each until it is answered 200."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in itertools.count():
            if stop.is_set():
                return
            wamid = f"wamid.kill.{n}.{i}"
            body = inbound_body(f"97255{n:02d}{i:05d}", wamid, f"kill {n}.{i}", int(time.time()))
            stored = post_until_stored(
                client, body, load.answers, deadline=time.monotonic() + SETTLE_S, pause_s=0.1
            )
            with load.lock:
                if stored:
                    load.acknowledged.append(wamid)
                else:
                    load.unfinished += 1


async def _count(db: Database, statement: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(statement) or 0)


async def _drill(db: Database, settings: Settings, folder: Path, plan: Plan) -> dict[str, Any]:
    # Nothing is sent in this drill: the Cloud API's address is a closed loopback port.
    nowhere = settings.model_copy(
        update={"whatsapp_api_base_url": f"http://127.0.0.1:{free_port()}"}
    )
    env = environment(nowhere, OVENAI_LOG_LEVEL="WARNING")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = start("serve-0", ["serve", "--port", str(port)], env, folder)
    wait_until_live(url, serve)
    load, stop = Load(), threading.Event()
    threads = [
        threading.Thread(target=_post, args=(url, load, stop, n)) for n in range(plan.posters)
    ]
    for thread in threads:
        thread.start()
    waiting: list[int] = []
    back_up: list[float] = []
    try:
        for kill in range(plan.kills):
            deadline = time.monotonic() + SETTLE_S
            while await _count(db, PENDING) < plan.waiting_before_kill:
                assert time.monotonic() < deadline, f"bodies never waited\n{serve.tail()}"
                await asyncio.sleep(0.01)
            serve.popen.send_signal(signal.SIGKILL)
            serve.popen.wait(timeout=10)
            killed = time.monotonic()
            waiting.append(await _count(db, PENDING))
            serve = start(f"serve-{kill + 1}", ["serve", "--port", str(port)], env, folder)
            wait_until_live(url, serve)
            back_up.append(time.monotonic() - killed)
            await asyncio.sleep(plan.after_s)
    finally:
        stop.set()
        for thread in threads:
            await asyncio.to_thread(thread.join, SETTLE_S + 30)
    stopped = time.monotonic()
    try:
        deadline = time.monotonic() + SETTLE_S
        while await _count(db, PENDING) > 0:
            assert time.monotonic() < deadline, f"stored bodies left pending\n{serve.tail()}"
            await asyncio.sleep(0.2)
        settled = time.monotonic()
        async with db.session() as session:
            stored = dict((await session.execute(STORED)).all())
            arrived = dict((await session.execute(INBOUND)).all())
            leads = await session.scalar(text("SELECT count(*) FROM leads"))
    finally:
        serve.stop()

    assert all(count > 0 for count in waiting), waiting  # each kill left stored bodies unapplied
    assert load.unfinished == 0
    assert set(load.answers.counts) <= {200, 0}, load.answers.counts
    assert set(stored) == {"processed"}, stored
    assert stored["processed"] >= len(load.acknowledged)
    assert set(arrived) == set(load.acknowledged)
    assert set(arrived.values()) == {1}
    assert leads == len(load.acknowledged)  # each new sender one lead
    return {
        "posts": sum(load.answers.counts.values()),
        "answered 200": load.answers.counts.get(200, 0),
        "no answer (killed or down)": load.answers.counts.get(0, 0),
        "stored bodies": stored["processed"],
        "applied messages": len(arrived),
        "kills": plan.kills,
        "waiting at each kill": waiting,
        "kill to serve live again (s)": [round(s, 1) for s in back_up],
        "pending gone after load stopped (s)": round(settled - stopped, 1),
    }


async def test_serve_killed_between_store_and_processing_loses_nothing_short(
    db: Database, clean_db: Settings, tmp_path: Path
) -> None:
    await _drill(db, clean_db, tmp_path, SHORT)


@pytest.mark.drills
async def test_serve_killed_between_store_and_processing_loses_nothing(
    db: Database, clean_db: Settings, tmp_path: Path
) -> None:
    report(
        f"serve-killed-{dialects.of_url(clean_db.database_url)}",
        await _drill(db, clean_db, tmp_path, LONG),
    )
