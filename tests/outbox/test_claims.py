"""Claiming: which due messages one claim takes, and the lead's state it reads with them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Row, select, update
from tests.outbox.conftest import make_lead, recently, send

from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.models import Direction, Lead, Message, MessageStatus
from ovenai.outbox import claims, outcomes, rules
from ovenai.outbox.outcomes import Kind, Outcome
from ovenai.sealing import MESSAGES, MessageColumn

pytestmark = pytest.mark.anyio


async def _queue(db: Database, lead_id: str, **request: Any) -> str:
    return (await send(db, lead_id, **request)).id


async def _texts_to_new_leads(db: Database, count: int) -> list[str]:
    """One free text to each of ``count`` new leads, oldest first."""
    return [
        await _queue(db, (await make_lead(db, wrote_at=recently())).id, text=f"m{n}")
        for n in range(count)
    ]


async def _claim(
    db: Database, worker: str, limit: int = 10, now: datetime | None = None
) -> list[Row[Any]]:
    async with db.session() as session:
        rows = await claims.claim(
            session, worker=worker, limit=limit, ttl_s=30.0, now=now or utcnow()
        )
        await session.commit()
    return rows


async def _store(
    db: Database, lead_id: str, kind: str, sealed: dict[MessageColumn, str | None], **columns: Any
) -> str:
    """A queued outbound message of any kind, written as the queue writes it (sealed under
    the lead's key): for the kinds and payloads only automation or an older row carries."""
    now = utcnow()
    message = Message(
        id=new_id(),
        lead_id=lead_id,
        direction=Direction.OUTBOUND,
        type=kind,
        status=MessageStatus.QUEUED,
        status_at=now,
        created_at=now,
        updated_at=now,
        next_attempt_at=now,
        attempts=0,
        **columns,
    )
    MESSAGES.seal_into(message, await db.vault.key("lead", lead_id), sealed)
    async with db.session() as session:
        session.add(message)
        await session.commit()
    return message.id


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


async def test_a_claim_holds_its_message_until_the_last_instant_of_its_lease(
    db: Database,
) -> None:
    (message_id,) = await _texts_to_new_leads(db, 1)
    start = utcnow()
    assert [row.id for row in await _claim(db, "worker-1", now=start)] == [message_id]
    claimed = await _message(db, message_id)
    end = start + timedelta(seconds=30)
    assert (claimed.claimed_by, claimed.claimed_until, claimed.updated_at) == (
        "worker-1",
        end,
        start,
    )

    assert await _claim(db, "worker-2", now=end) == []
    after = end + timedelta(microseconds=1)
    assert [row.id for row in await _claim(db, "worker-2", now=after)] == [message_id]
    taken = await _message(db, message_id)
    assert (taken.claimed_by, taken.attempts, taken.claimed_until) == (
        "worker-2",
        2,
        after + timedelta(seconds=30),
    )


async def test_a_claim_s_rows_name_the_message_s_and_the_lead_s_columns(db: Database) -> None:
    await _texts_to_new_leads(db, 1)
    (row,) = await _claim(db, "worker-1")
    assert row._fields == claims.Claimed._fields
    assert (row.opted_out, row.erased, row.basis) == (False, False, row.basis)
    assert row.basis is not None  # make_lead's leads opted in


async def test_two_workers_claiming_at_once_take_each_message_once(db: Database) -> None:
    ids = await _texts_to_new_leads(db, 3)
    async with db.session() as session:
        mine = await claims.claim(session, worker="worker-1", limit=1, ttl_s=30.0, now=utcnow())
        if db.dialect == "postgresql":
            # FOR UPDATE SKIP LOCKED: the second claim passes the first one's locked row by,
            # without waiting for its commit.
            theirs = await asyncio.wait_for(_claim(db, "worker-2"), 10)
            await session.commit()
        else:  # a writing transaction holds the whole database: claims take turns
            await session.commit()
            theirs = await _claim(db, "worker-2")
    assert [row.id for row in mine] == ids[:1]
    assert sorted(row.id for row in theirs) == sorted(ids[1:])
    assert [(await _message(db, id_)).attempts for id_ in ids] == [1, 1, 1]


async def test_the_soonest_due_goes_first_then_the_oldest(db: Database) -> None:
    older, newer = await _texts_to_new_leads(db, 2)
    now = utcnow()
    await _change(db, Message, older, next_attempt_at=now - timedelta(seconds=10))
    await _change(db, Message, newer, next_attempt_at=now - timedelta(seconds=20))
    assert [row.id for row in await _claim(db, "worker-1", limit=1)] == [newer]
    assert [row.id for row in await _claim(db, "worker-1", limit=1)] == [older]

    # The same due time: the older message first, whatever order the rows were written in.
    written_first, written_second = await _texts_to_new_leads(db, 2)
    for id_, age in ((written_first, 5), (written_second, 6)):
        await _change(db, Message, id_, next_attempt_at=now, created_at=now - timedelta(hours=age))
    assert [row.id for row in await _claim(db, "worker-1", limit=1)] == [written_second]


async def _expired(db: Database, message_id: str, **columns: Any) -> None:
    """The message claimed by a worker that died: its claim ran out a second ago."""
    claimed_until = utcnow() - timedelta(seconds=1)
    await _change(
        db,
        Message,
        message_id,
        status="sending",
        claimed_by="dead-worker",
        claimed_until=claimed_until,
        attempts=1,
        **columns,
    )


@pytest.mark.parametrize("tie", [False, True], ids=["due time", "same due time"])
async def test_expired_claims_and_queued_messages_share_one_order(db: Database, tie: bool) -> None:
    queued, expired = await _texts_to_new_leads(db, 2)
    now = utcnow()
    if tie:  # the same due time: the older first, though it was written second
        await _change(db, Message, queued, next_attempt_at=now, created_at=now - timedelta(hours=1))
        await _expired(db, expired, next_attempt_at=now, created_at=now - timedelta(hours=2))
    else:  # due an hour ago, written after the other: the due time decides
        await _change(db, Message, queued, next_attempt_at=now - timedelta(seconds=10))
        await _expired(db, expired, next_attempt_at=now - timedelta(hours=1), created_at=now)
    assert [row.id for row in await _claim(db, "worker-1", limit=1)] == [expired]
    assert [row.id for row in await _claim(db, "worker-1", limit=1)] == [queued]


async def test_messages_written_in_the_same_instant_leave_in_id_order(db: Database) -> None:
    lead = await make_lead(db, wrote_at=recently())
    ids = [await _queue(db, lead.id, text=f"m{n}") for n in range(2)]
    same = utcnow() - timedelta(seconds=1)
    for id_ in ids:
        await _change(db, Message, id_, created_at=same, next_attempt_at=same)

    assert [row.id for row in await _claim(db, "worker-1")] == [min(ids)]


async def test_a_scheduled_message_holds_up_the_lead_s_later_ones_from_its_time_on(
    db: Database,
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    scheduled = await _queue(db, lead.id, text="at nine")
    later = await _queue(db, lead.id, text="written after")
    at = utcnow()
    await _change(db, Message, scheduled, send_after=at, next_attempt_at=at)

    assert [row.id for row in await _claim(db, "worker-1", now=at)] == [scheduled]
    sent = Outcome(scheduled, Kind.SENT, utcnow(), wa_message_id="wamid.nine")
    await outcomes.write(db, "worker-1", [sent])
    assert [row.id for row in await _claim(db, "worker-1")] == [later]


async def test_a_claimed_message_whose_lead_lost_every_address_fails(db: Database) -> None:
    lead = await make_lead(db, wrote_at=recently())
    await _queue(db, lead.id, text="to nobody")
    await _change(db, Lead, lead.id, phone_enc=None, wa_id_enc=None, bsuid_enc=None)

    (job,) = await _jobs(db)

    assert job.problem == rules.NoWhatsAppIdentity().message and job.to is None


async def test_claimed_buttons_a_file_and_a_template_come_with_their_content(
    db: Database,
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    buttons = '{"buttons": [["viewing_yes:1", "כן"], ["viewing_no:1", "לא"]]}'
    asked = await _store(db, lead.id, "interactive", {"text": "מתאים?", "payload": buttons})
    photo = await _store(
        db, lead.id, "image", {"text": "הסלון", "payload": '{"file_id": "file-1"}'}
    )
    template_payload = (
        '{"header_params": ["רמת גן"], "header_file": "file-2",'
        ' "quick_replies": ["viewing_confirm:7", 8]}'
    )
    await _store(
        db,
        lead.id,
        "template",
        {"text": "rendered", "template_params": '["נועה"]', "payload": template_payload},
        template_name="viewing_confirm_he",
        template_language="he",
        category="UTILITY",
    )

    first = await _jobs(db)
    assert [(j.id, j.text, j.buttons) for j in first] == [
        (asked, "מתאים?", [("viewing_yes:1", "כן"), ("viewing_no:1", "לא")])
    ]
    await outcomes.write(db, "worker-1", [Outcome(asked, Kind.SENT, utcnow(), "wamid.1")])
    (image,) = await _jobs(db)
    assert (image.id, image.kind, image.text, image.file_id) == (photo, "image", "הסלון", "file-1")
    await outcomes.write(db, "worker-1", [Outcome(photo, Kind.SENT, utcnow(), "wamid.2")])
    (template,) = await _jobs(db)
    assert (template.body_params, template.header_params, template.file_id) == (
        ["נועה"],
        ["רמת גן"],
        "file-2",
    )
    assert template.quick_replies == ["viewing_confirm:7", "8"] and template.problem is None


async def test_rows_without_a_payload_or_parameters_load_with_none(db: Database) -> None:
    lead = await make_lead(db, wrote_at=recently())
    await _store(db, lead.id, "document", {"payload": '{"file_id": "file-3"}'})
    brochure = await _jobs(db)
    assert [(j.kind, j.text, j.file_id) for j in brochure] == [("document", None, "file-3")]
    await outcomes.write(db, "worker-1", [Outcome(brochure[0].id, Kind.SENT, utcnow(), "w.3")])
    await _store(db, lead.id, "text", {"text": "bare"})
    (text,) = await _jobs(db)
    assert (text.text, text.preview_url, text.problem) == ("bare", False, None)
    await outcomes.write(db, "worker-1", [Outcome(text.id, Kind.SENT, utcnow(), "w.4")])
    await _store(
        db,
        lead.id,
        "template",
        {},
        template_name="t_he",
        template_language="he",
        category="UTILITY",
    )
    (template,) = await _jobs(db)
    assert (template.body_params, template.header_params, template.quick_replies) == ([], [], [])
    assert template.file_id is None


@pytest.mark.parametrize(
    ("category", "opted_out", "basis", "problem"),
    [
        ("MARKETING", True, "opt_in", rules.LeadOptedOut("template").message),
        ("MARKETING", False, None, rules.LeadWithoutBasis("template").message),
        ("marketing", False, None, rules.LeadWithoutBasis("template").message),
        ("UTILITY", True, None, None),
        (None, False, None, None),
    ],
)
async def test_a_template_s_category_decides_whether_consent_is_checked_again(
    db: Database, category: str | None, opted_out: bool, basis: str | None, problem: str | None
) -> None:
    lead = await make_lead(db, wrote_at=recently())
    # A row without a template name (older rows): the problem names "template".
    await _store(db, lead.id, "template", {}, template_language="he", category=category)
    await _change(
        db, Lead, lead.id, opted_out_at=utcnow() if opted_out else None, marketing_basis=basis
    )

    (job,) = await _jobs(db)

    assert job.problem == problem


async def test_only_the_erased_leads_messages_fail_when_some_keys_are_gone(
    db: Database,
) -> None:
    leads = [await make_lead(db, wrote_at=recently()) for _ in range(8)]
    for lead in leads:
        await _queue(db, lead.id, text="hello")
    erased = {lead.id for lead in leads[::2]}
    for lead_id in erased:
        await db.vault.destroy("lead", lead_id)

    jobs = await _jobs(db)

    assert {job.lead_id: job.problem for job in jobs} == {
        lead.id: "the lead was erased" if lead.id in erased else None for lead in leads
    }


async def test_decrypting_a_large_claim_lets_other_tasks_run_every_50_jobs(
    db: Database,
) -> None:
    await _texts_to_new_leads(db, 1)
    now = utcnow()
    (row,) = await _claim(db, "worker-1", now=now)
    await claims.load_jobs(db.vault, [row], now)  # the lead's key is cached from now on
    turns = 0
    done = False

    async def other_task() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    async def turns_while_loading(count: int) -> int:
        before = turns
        jobs = await claims.load_jobs(db.vault, [row] * count, now)
        assert [job.id for job in jobs] == [row.id] * count
        return turns - before

    task = asyncio.create_task(other_task())
    await asyncio.sleep(0)
    try:
        given = [await turns_while_loading(n) for n in (1, 49, 50, 99, 100, 150)]
    finally:
        done = True
        await task
    assert given == [0, 0, 1, 1, 2, 3]


async def test_deferred_messages_are_given_back_each_to_its_time(db: Database) -> None:
    mine = await _texts_to_new_leads(db, 2)
    start = utcnow()
    assert len(await _claim(db, "worker-1", now=start)) == 2
    other = (await _texts_to_new_leads(db, 1))[0]
    assert [row.id for row in await _claim(db, "worker-2")] == [other]
    now = utcnow()
    until = {mine[0]: now + timedelta(hours=1), mine[1]: now + timedelta(hours=2)}
    async with db.session() as session:
        await claims.defer(session, worker="worker-1", until=until, now=now)
        # another worker's claim is not given back by this one
        await claims.defer(session, worker="worker-1", until={other: now}, now=now)
        await session.commit()

    for id_, when in until.items():
        row = await _message(db, id_)
        assert (row.status, row.claimed_by, row.claimed_until, row.attempts) == (
            "queued",
            None,
            None,
            0,
        )
        assert (row.next_attempt_at, row.send_after, row.status_at, row.updated_at) == (
            when,
            when,
            now,
            now,
        )
    kept = await _message(db, other)
    assert (kept.status, kept.claimed_by, kept.attempts, kept.send_after) == (
        "sending",
        "worker-2",
        1,
        None,
    )
