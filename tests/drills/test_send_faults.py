"""Drill: the Cloud API answering 500s, HTML 502s, timeouts and 130429 storms while a real
``ovenai worker`` sends a batch, counted at the simulator and in the database.

Each lead gets one message. The simulator's fault API (``ovenai.simulator.faults``) gives
some recipients a known misfortune, and a storm of 130429 ("too many messages") hits
whichever sends come first:

* ``http500`` (a bare 500, twice; once in the short form) and ``html502`` (an HTML 502,
  once): transient, retried with backoff (outbox/retry.py), so ``attempts`` is one more
  than the faults;
* ``meta131000`` (a JSON error 131000 with HTTP 500, once): transient, the same;
* ``throttled`` (130429 three times) and the storm's 130429s: a limit, not a fault: the
  attempt is given back (``attempts`` stays 1 more than the transient faults) and
  ``throttled_attempts`` is 0 again once sent;
* ``undeliverable`` (131026 on every try): permanent, failed at once with Meta's code and
  title, one attempt, never accepted;
* ``timeout`` (long form: the answer held 11 s, past the client's 10 s): the outcome is
  unknown, so it is sent again (at least once, README "Delivery guarantees"): two
  attempts, and one or two accepted copies (the held copy may meet the storm's 130429
  once its wait is over).

Counted: every message ends ``sent`` or ``failed``; the simulator accepted each sent message
once (twice at most for a timed-out one), no failed one; every injected fault was used up;
``attempts`` and ``throttled_attempts`` are as the policy says.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from tests.outbox.conftest import make_lead, recently

from drills.product import PHONE_ID, SIM, TOKEN, WABA_ID, environment, report, sim_get, start
from ovenai import dialects
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.models import Message
from ovenai.outbox import queue
from ovenai.settings import Settings
from ovenai.simulator import SimulatorThread
from support.simulator_http import post_control

pytestmark = pytest.mark.anyio
SETTLE_S = 120.0

# Per recipient: the faults to inject (the simulator's fault spec), the transient answers they
# make (each costs an attempt) and the copies the simulator may accept.
GROUPS: dict[str, tuple[dict[str, Any], int]] = {
    "html502": ({"html": {"status": 502, "count": 1}}, 1),
    "meta131000": ({"errors": [{"code": 131000, "status": 500, "count": 1}]}, 1),
    "throttled": ({"errors": [{"code": 130429, "status": 429, "count": 3}]}, 0),
    "undeliverable": ({"errors": [{"code": 131026, "status": 400, "count": None}]}, 0),
    "clean": ({}, 0),
}
TIMEOUT_GROUP: tuple[dict[str, Any], int] = ({"latency": {"ms": 11_000, "count": 1}}, 1)


@dataclass(frozen=True)
class Plan:
    """How many leads per group, the 130429 storm's size, whether some sends time out."""

    per_group: int
    storm: int
    bare_500s: int
    timeouts: bool


SHORT = Plan(per_group=3, storm=15, bare_500s=1, timeouts=False)
LONG = Plan(per_group=40, storm=300, bare_500s=2, timeouts=True)


def _recipient(spec: dict[str, Any], wa_id: str) -> dict[str, Any]:
    """``spec`` aimed at one recipient."""
    aimed: dict[str, Any] = {}
    for kind, value in spec.items():
        if kind == "errors":
            aimed[kind] = [item | {"recipient": wa_id} for item in value]
        else:
            aimed[kind] = value | {"recipient": wa_id}
    return aimed


async def _drill(db: Database, settings: Settings, folder: Path, plan: Plan) -> dict[str, Any]:
    bare = ({"http_status": {"status": 500, "count": plan.bare_500s}}, plan.bare_500s)
    groups = {"http500": bare} | GROUPS | ({"timeout": TIMEOUT_GROUP} if plan.timeouts else {})
    with SimulatorThread(SIM) as simulator:
        base = simulator.base_url
        group_of: dict[str, str] = {}  # message id -> group
        wa_of: dict[str, str] = {}
        for group, (spec, _) in groups.items():
            for _ in range(plan.per_group):
                lead = await make_lead(db, wrote_at=recently())
                wa_id = lead.phone.removeprefix("+") if lead.phone else ""
                post_control(
                    base, "inbound", {"from": wa_id, "type": "text", "text": "hi", "wait": False}
                )
                if spec:
                    post_control(base, "faults", _recipient(spec, wa_id))
                queued = await queue.send_message(
                    db,
                    actor=Actor.system(),
                    lead_id=lead.id,
                    request=queue.OutboundRequest(text=f"drill {lead.id}"),
                    waba_id=WABA_ID,
                    zone=UTC,
                )
                group_of[queued.id] = group
                wa_of[queued.id] = wa_id
        # The storm: the first sends to reach the simulator, whoever they are for.
        post_control(
            base, "faults", {"errors": [{"code": 130429, "status": 429, "count": plan.storm}]}
        )

        worker_settings = settings.model_copy(
            update={
                "whatsapp_access_token": SecretStr(TOKEN),
                "whatsapp_phone_number_id": PHONE_ID,
                "whatsapp_business_account_id": WABA_ID,
                "whatsapp_api_base_url": base,
            }
        )
        began = time.monotonic()
        worker = start("worker", ["worker"], environment(worker_settings), folder)
        try:
            rows = await _settled(db, len(group_of), worker.tail)
            took = time.monotonic() - began
            assert worker.alive(), worker.tail()
        finally:
            worker.stop()
        outbox = sim_get(base, "outbox")
        stats = sim_get(base, "stats")
        faults_left = simulator.state.faults.answers + simulator.state.faults.delays

    accepted = Counter(m["body"]["text"]["body"].removeprefix("drill ") for m in outbox["messages"])
    by_lead = {row.lead_id: row for row in rows}
    assert len(by_lead) == len(rows) == len(group_of)
    for row in rows:
        group = group_of[row.id]
        transient = groups[group][1]
        copies = accepted.get(row.lead_id, 0)
        if group == "undeliverable":
            assert (row.status, row.error_code, row.attempts, copies) == ("failed", 131026, 1, 0)
            assert row.error_title, row.error_title
            continue
        assert row.status == "sent", (group, row.status, row.error_code, row.error_title)
        assert row.attempts == 1 + transient, (group, row.attempts)
        assert row.throttled_attempts == 0, group
        allowed = {1, 2} if group == "timeout" else {1}
        assert copies in allowed, (group, copies)
    assert sum(accepted.values()) == sum(1 for row in rows if row.status == "sent") + sum(
        accepted.get(row.lead_id, 0) - 1 for row in rows if group_of[row.id] == "timeout"
    )
    # Every fault was met: the undeliverable ones stay (they never run out), all else used up.
    assert all(fault.code == 131026 for fault in faults_left), faults_left
    counts = stats["counts"]
    expected_errors = plan.storm + plan.per_group * (3 + 1)  # 130429 storm and targeted, 131000
    assert counts.get("fault_error", 0) == expected_errors + plan.per_group  # + 131026's
    assert counts.get("fault_http_status", 0) == plan.bare_500s * plan.per_group
    assert counts.get("fault_html", 0) == plan.per_group
    return {
        "messages": len(rows),
        "sent": sum(1 for row in rows if row.status == "sent"),
        "failed (131026)": sum(1 for row in rows if row.status == "failed"),
        "accepted by the simulator": sum(accepted.values()),
        "accepted twice (timed out)": sum(1 for copies in accepted.values() if copies == 2),
        "faults answered": sum(v for k, v in counts.items() if k.startswith("fault_")),
        "130429 answered": plan.storm + 3 * plan.per_group,
        "worker start to all settled (s)": round(took, 1),
    }


async def _settled(db: Database, count: int, tail: Any) -> list[Message]:
    """Wait until every message is sent or failed; return them."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        async with db.session() as session:
            rows = list((await session.scalars(select(Message))).all())
        if len(rows) == count and all(row.status in ("sent", "failed") for row in rows):
            return rows
        if time.monotonic() > deadline:
            states = Counter(row.status for row in rows)
            raise AssertionError(f"messages not settled within {SETTLE_S} s: {states}\n{tail()}")
        await asyncio.sleep(0.2)


async def test_cloud_api_faults_every_message_ends_sent_once_or_failed_short(
    db: Database, clean_db: Settings, tmp_path: Path
) -> None:
    await _drill(db, clean_db, tmp_path, SHORT)


@pytest.mark.drills
async def test_cloud_api_faults_every_message_ends_sent_once_or_failed(
    db: Database, clean_db: Settings, tmp_path: Path
) -> None:
    report(
        f"send-faults-{dialects.of_url(clean_db.database_url)}",
        await _drill(db, clean_db, tmp_path, LONG),
    )
