"""Hooks run after each inbound message / status change, their writes kept once; a failing
hook is isolated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ovenai import hooks
from ovenai.models import Alert, Lead

pytestmark = pytest.mark.anyio


@pytest.fixture
def registered() -> Iterator[list[tuple[str, object]]]:
    calls: list[tuple[str, object]] = []

    async def record_inbound(session, stored) -> None:
        for arrival in stored:
            wamid = arrival.message.wa_message_id
            calls.append(("inbound", wamid))
            session.add(Alert(kind=f"hook:{wamid}", severity="info", message="seen"))
            arrival.lead.want_city = "חיפה"  # a change the broken hook's failure rolls back

    async def broken_inbound(session, stored) -> None:
        session.add(Alert(kind="half-written", severity="info", message="must roll back"))
        await session.flush()
        raise RuntimeError("automation bug")

    async def record_status(session, changes) -> None:
        calls.extend(("status", (c.wa_message_id, c.status)) for c in changes)

    hooks.after_inbound.extend([record_inbound, broken_inbound])
    hooks.after_status.append(record_status)
    yield calls
    hooks.after_inbound.clear()
    hooks.after_status.clear()


async def test_hooks_run_once_and_a_failing_hook_loses_nothing(
    registered, bodies, harness, db
) -> None:
    raw = bodies.text("wamid.H1", "hi")
    await harness.outbound("wamid.OUT")
    await harness.deliver(raw, raw, bodies.statuses(bodies.status("wamid.OUT", "read", 1767000000)))
    # The inbound hooks share a savepoint: the broken one rolled it back, so the one before
    # it was called again on its own, and what it wrote is there once.
    assert registered == [
        ("inbound", "wamid.H1"),
        ("inbound", "wamid.H1"),
        ("status", ("wamid.OUT", "read")),
    ]
    assert (await harness.message("wamid.H1")).direction == "inbound"
    from sqlalchemy import select

    async with db.session() as session:
        kinds = list(await session.scalars(select(Alert.kind)))
        towns = set(await session.scalars(select(Lead.want_city)))
    assert kinds.count("hook:wamid.H1") == 1 and "half-written" not in kinds
    assert "חיפה" in towns  # written again when the hook was called alone
