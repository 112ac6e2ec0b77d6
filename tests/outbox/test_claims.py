"""Claiming: which due messages one claim takes, and the lead's state it reads with them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Row, select, update
from tests.outbox.conftest import make_lead, recently, send

from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import Lead, Message
from ovenai.outbox import claims, outcomes
from ovenai.outbox.outcomes import Kind, Outcome

pytestmark = pytest.mark.anyio


async def _queue(db: Database, lead_id: str, **request: Any) -> str:
    return (await send(db, lead_id, **request)).id


async def _texts_to_new_leads(db: Database, count: int) -> list[str]:
    """One free text to each of ``count`` new leads, oldest first."""
    return [
        await _queue(db, (await make_lead(db, wrote_at=recently())).id, text=f"m{n}")
        for n in range(count)
    ]


async def _claim(db: Database, worker: str, limit: int = 10) -> list[Row[Any]]:
    async with db.session() as session:
        rows = await claims.claim(session, worker=worker, limit=limit, ttl_s=30.0, now=utcnow())
        await session.commit()
    return rows


async def _jobs(db: Database, worker: str = "worker-1") -> list[claims.Job]:
    now = utcnow()
    async with db.session() as session:
        rows = await claims.claim(session, worker=worker, limit=10, ttl_s=30.0, now=now)
        await session.commit()
        return await claims.load_jobs(db.vault, rows, now)


async def _change(db: Database, model: Any, row_id: str, **values: Any) -> None:
    async with db.session() as session:
        await session.execute(update(model).where(model.id == row_id).values(**values))
        await session.commit()


async def _message(db: Database, message_id: str) -> Message:
    async with db.session() as session:
        found = await session.scalar(select(Message).where(Message.id == message_id))
        assert found is not None
        return found


async def test_a_claim_takes_expired_claims_and_queued_messages_in_due_order(
    db: Database,
) -> None:
    first, second, third, later = await _texts_to_new_leads(db, 4)
    assert [row.id for row in await _claim(db, "dead-worker", limit=1)] == [first]
    await _change(db, Message, first, claimed_until=utcnow() - timedelta(seconds=1))
    await _change(db, Message, later, next_attempt_at=utcnow() + timedelta(hours=1))

    taken = await _claim(db, "worker-1", limit=2)
    rest = await _claim(db, "worker-1", limit=5)

    assert {row.id for row in taken} == {first, second}
    assert [row.id for row in rest] == [third]
    expired = await _message(db, first)
    assert (expired.status, expired.claimed_by, expired.attempts) == ("sending", "worker-1", 2)


async def test_a_lead_s_next_message_waits_until_the_one_in_flight_is_recorded(
    db: Database,
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    earlier = await _queue(db, lead.id, text="first")
    later = await _queue(db, lead.id, text="second")

    assert [row.id for row in await _claim(db, "worker-1")] == [earlier]
    assert await _claim(db, "worker-1") == []
    sent = Outcome(earlier, Kind.SENT, utcnow(), wa_message_id="wamid.first")
    await outcomes.write(db, "worker-1", [sent])
    assert [row.id for row in await _claim(db, "worker-1")] == [later]


async def test_a_claimed_text_comes_with_its_lead_s_address_and_window(db: Database) -> None:
    lead = await make_lead(db, wrote_at=recently())
    message_id = await _queue(db, lead.id, text="שלום", preview_url=True)

    (job,) = await _jobs(db)

    assert (job.id, job.lead_id, job.kind, job.attempts) == (message_id, lead.id, "text", 1)
    assert (job.text, job.preview_url, job.to, job.window_open) == ("שלום", True, lead.phone, True)
    assert job.problem is None


async def test_a_text_whose_window_closed_after_queueing_fails_with_the_time_in_utc(
    db: Database,
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    await _queue(db, lead.id, text="too late")
    wrote = datetime(2020, 5, 1, 12, 30, tzinfo=UTC)
    await _change(db, Lead, lead.id, last_inbound_at=wrote)

    (job,) = await _jobs(db)

    assert job.problem is not None and "2020-05-01T12:30+00:00" in job.problem


async def test_a_marketing_template_to_a_lead_who_opted_out_meanwhile_fails(
    seeded: Database,
) -> None:
    lead = await make_lead(seeded)
    await _queue(seeded, lead.id, template="followup_interest", params=["נועה", "רמת גן"])
    await _change(seeded, Lead, lead.id, opted_out_at=utcnow())

    (job,) = await _jobs(seeded)

    assert job.problem is not None and "opted out" in job.problem
    assert job.body_params == ["נועה", "רמת גן"] and job.template_name == "followup_interest_he"


@pytest.mark.parametrize("how", ["marked", "key destroyed"])
async def test_a_message_to_an_erased_lead_fails_without_being_decrypted(
    db: Database, how: str
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    await _queue(db, lead.id, text="gone")
    if how == "marked":
        await _change(db, Lead, lead.id, erased_at=utcnow())
    else:
        await db.vault.destroy("lead", lead.id)

    (job,) = await _jobs(db)

    assert job.problem == "the lead was erased" and job.text is None and job.to is None
