"""Inbound messages applied a run at a time, as a batch of the processor applies them.

Each test applies its bodies in ONE transaction (``apply_together``, what
``Processor.process_batch`` does with the bodies it claimed), so the run's senders are matched
in memory: a sender new in the batch who writes twice is one lead, a lead found by phone
gains its WhatsApp ids for the messages after, a number change mid-batch moves the lead
before the messages that follow it, the newest username and profile name are kept, and the
hooks see every (lead, message) in document order. Applied twice, or after a batch that died
before its commit, everything is there once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select

from ovenai import dialects, hooks, phones
from ovenai.auth import Actor
from ovenai.columns import new_id
from ovenai.db import Database
from ovenai.ingest.apply.batch import Body, Outcome, apply_bodies
from ovenai.ingest.parse.body_parser import parse_webhook
from ovenai.lead_fields import LeadCreate, LeadFilter
from ovenai.leads import create_lead, list_leads
from ovenai.metrics import HOOK_FAILURES
from ovenai.models import Alert, AppliedItem, Lead, Message, Role, WebhookEvent
from ovenai.sealing import username_index
from support.locks import until_waiting

pytestmark = pytest.mark.anyio

ADMIN = Actor(user_id=None, role=Role.ADMIN, email="system@example.co.il")
T0 = 1767000000
OLD, NEW_NUMBER = "972521234567", "972529876543"
OLD_BSUID, NEW_BSUID = "IL.5550001112223334445", "IL.5550009998887776665"


class Crash(Exception):
    """The process died before the batch's commit."""


def inbound(
    bodies: Any,
    wamid: str,
    *,
    ts: int,
    wa_id: str | None = OLD,
    user_id: str | None = OLD_BSUID,
    name: str | None = "Noa",
    username: str | None = None,
    text: str = "שלום",
) -> bytes:
    """One text message with the ``contacts`` block Meta sends (a username user has no wa_id)."""
    profile = {k: v for k, v in (("name", name), ("username", username)) if v}
    contact: dict[str, Any] = {"profile": profile}
    message: dict[str, Any] = {
        "id": wamid,
        "timestamp": str(ts),
        "type": "text",
        "text": {"body": text},
    }
    if wa_id:
        contact["wa_id"] = message["from"] = wa_id
    if user_id:
        contact["user_id"] = message["from_user_id"] = user_id
    raw: bytes = bodies.envelope({"contacts": [contact], "messages": [message]})
    return raw


def number_change(bodies: Any, wamid: str, *, ts: int, to: str) -> bytes:
    """Meta's ``system`` message: the user behind OLD / OLD_BSUID now writes from ``to``."""
    message = {
        "from": OLD,
        "from_user_id": OLD_BSUID,
        "id": wamid,
        "timestamp": str(ts),
        "type": "system",
        "system": {"body": "Noa changed number", "type": "user_changed_number", "wa_id": to},
    }
    raw: bytes = bodies.envelope({"messages": [message]})
    return raw


async def apply_together(db: Database, *raws: bytes, crash: bool = False) -> Outcome:
    """Apply the bodies in one transaction, as the processor applies one batch.

    The stored rows are stand-ins no processor can claim (the session's live server runs one),
    so the batch is exactly these bodies. ``crash`` dies after applying, before the commit.
    """
    async with db.session() as session:
        batch = []
        for raw in raws:
            row = WebhookEvent(
                id=new_id(), key_bucket="test", body_size=len(raw), status="processed"
            )
            session.add(row)
            batch.append(Body(row.id, parse_webhook(raw)))
        await session.flush()
        outcome = await apply_bodies(session, db.vault, batch)
        if crash:
            raise Crash
        await session.commit()
    return outcome


async def count(db: Database, model: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


async def test_a_new_sender_writing_twice_in_one_batch_is_one_lead_with_both_messages(
    bodies, harness, db
) -> None:
    await apply_together(
        db,
        inbound(bodies, "wamid.A", ts=T0, name="נועה בן דוד"),
        inbound(bodies, "wamid.B", ts=T0 + 60, text="עוד שאלה", name="נועה בן דוד"),
    )

    (row,) = await harness.leads()
    lead = await harness.lead(bsuid=OLD_BSUID)
    assert lead is not None and lead.id == row.id
    assert (lead.wa_id, lead.phone, lead.name, lead.source) == (
        OLD,
        f"+{OLD}",
        "נועה בן דוד",
        "whatsapp",
    )
    assert lead.last_inbound_at == at(T0 + 60)
    conversation = await harness.conversation(lead.id)
    assert [(m.wa_message_id, m.text) for m in conversation] == [
        ("wamid.A", "שלום"),
        ("wamid.B", "עוד שאלה"),
    ]
    found = await list_leads(db, actor=ADMIN, filters=LeadFilter(q="נוע"))
    assert [each.id for each in found.items] == [lead.id]  # its name tokens were written


async def test_known_new_and_bsuid_only_senders_in_one_batch(bodies, harness, db) -> None:
    agent_lead = await create_lead(
        db, actor=ADMIN, data=LeadCreate(name="Dana", phone="0521234567")
    )
    await apply_together(
        db,
        inbound(bodies, "wamid.K1", ts=T0, name="Dana Levi"),  # the agent's lead, by phone
        inbound(bodies, "wamid.N1", ts=T0 + 1, wa_id="972527654321", user_id="IL.7", name=None),
        inbound(bodies, "wamid.U1", ts=T0 + 2, wa_id=None, user_id="IL.8", username="maya"),
        inbound(bodies, "wamid.K2", ts=T0 + 3, wa_id=None, user_id=OLD_BSUID, name="Dana Levi"),
        inbound(bodies, "wamid.N2", ts=T0 + 4, wa_id="972527654321", user_id="IL.7", name="Omer"),
    )

    assert len(await harness.leads()) == 3
    known = await harness.lead(bsuid=OLD_BSUID)  # gained in K1, matched by it in K2
    assert known is not None and known.id == agent_lead.id
    assert (known.wa_id, known.name, known.profile_name) == (OLD, "Dana", "Dana Levi")
    assert known.last_inbound_at == at(T0 + 3)
    assert [m.wa_message_id for m in await harness.conversation(known.id)] == [
        "wamid.K1",
        "wamid.K2",
    ]
    new = await harness.lead(phone="+972527654321")
    assert new is not None and (new.bsuid, new.name) == ("IL.7", "Omer")
    assert new.last_inbound_at == at(T0 + 4)
    assert [m.wa_message_id for m in await harness.conversation(new.id)] == [
        "wamid.N1",
        "wamid.N2",
    ]
    found = await list_leads(db, actor=ADMIN, filters=LeadFilter(q="Omer"))
    assert [each.id for each in found.items] == [new.id]  # named by its second message
    username_only = await harness.lead(bsuid="IL.8")
    assert username_only is not None
    assert (username_only.wa_id, username_only.phone) == (None, None)
    assert (username_only.name, username_only.username) == ("Noa", "maya")


async def test_a_number_change_mid_batch_moves_the_lead_before_the_messages_after_it(
    bodies, harness, db
) -> None:
    await apply_together(
        db,
        inbound(bodies, "wamid.before", ts=T0),  # a new lead, in the same batch
        number_change(bodies, "wamid.change", ts=T0 + 60, to=NEW_NUMBER),
        inbound(bodies, "wamid.after", ts=T0 + 120, wa_id=NEW_NUMBER, user_id=NEW_BSUID),
        inbound(bodies, "wamid.again", ts=T0 + 180, wa_id=NEW_NUMBER, user_id=NEW_BSUID),
    )

    (row,) = await harness.leads()
    lead = await harness.lead(bsuid=NEW_BSUID)
    assert lead is not None and lead.id == row.id
    assert (lead.wa_id, lead.phone) == (NEW_NUMBER, f"+{NEW_NUMBER}")
    assert await harness.lead(wa_id=OLD) is None and await harness.lead(bsuid=OLD_BSUID) is None
    assert lead.last_inbound_at == at(T0 + 180)
    assert [m.wa_message_id for m in await harness.conversation(lead.id)] == [
        "wamid.before",
        "wamid.change",
        "wamid.after",
        "wamid.again",
    ]


async def test_a_username_and_profile_name_changed_mid_batch_keep_the_newest(
    bodies, harness, db
) -> None:
    await apply_together(db, inbound(bodies, "wamid.first", ts=T0, name=None))  # no name yet
    await apply_together(
        db,
        inbound(bodies, "wamid.1", ts=T0 + 1, name="Noa", username="noa.tlv"),
        inbound(bodies, "wamid.2", ts=T0 + 2, name="Noa Ben David", username="Noa.B"),
        inbound(bodies, "wamid.3", ts=T0 + 3, name=None),  # no profile: nothing cleared
    )

    lead = await harness.lead(bsuid=OLD_BSUID)
    assert lead is not None
    assert (lead.name, lead.profile_name, lead.username) == ("Noa", "Noa Ben David", "Noa.B")
    (row,) = await harness.leads()
    assert row.username_index == username_index(db.vault, "@noa.b")
    assert lead.last_inbound_at == at(T0 + 3)
    assert len(await harness.conversation(lead.id)) == 4
    found = await list_leads(db, actor=ADMIN, filters=LeadFilter(q="noa"))
    assert [each.id for each in found.items] == [lead.id]  # named by the first profile


async def test_a_batch_applied_again_changes_nothing(bodies, harness, db) -> None:
    batch = (
        inbound(bodies, "wamid.R1", ts=T0),
        inbound(bodies, "wamid.R2", ts=T0 + 1, wa_id="972527654321", user_id="IL.777"),
        inbound(bodies, "wamid.R3", ts=T0 + 2),
    )
    first = await apply_together(db, *batch)
    leads_after_first = {lead.id: lead.last_inbound_at for lead in await harness.leads()}

    again = await apply_together(db, *batch)
    await harness.deliver(*batch)  # and as Meta's retries, through the processor

    assert first.applied["InboundMessage"] == 3 and again.duplicates["InboundMessage"] == 3
    assert {lead.id: lead.last_inbound_at for lead in await harness.leads()} == leads_after_first
    assert await count(db, Message) == 3 and await count(db, AppliedItem) == 3


async def test_a_batch_that_died_before_its_commit_is_applied_once_later(
    bodies, harness, db
) -> None:
    batch = (
        inbound(bodies, "wamid.C1", ts=T0),
        inbound(bodies, "wamid.C2", ts=T0 + 1, wa_id="972527654321", user_id="IL.777"),
        number_change(bodies, "wamid.C3", ts=T0 + 2, to=NEW_NUMBER),
        inbound(bodies, "wamid.C4", ts=T0 + 3, wa_id=NEW_NUMBER, user_id=NEW_BSUID),
    )
    with pytest.raises(Crash):
        await apply_together(db, *batch, crash=True)
    assert (await count(db, Lead), await count(db, Message), await count(db, AppliedItem)) == (
        0,
        0,
        0,
    )

    await apply_together(db, *batch)

    assert await count(db, Lead) == 2 and await count(db, Message) == 4
    lead = await harness.lead(wa_id=NEW_NUMBER)
    assert lead is not None
    assert [m.wa_message_id for m in await harness.conversation(lead.id)] == [
        "wamid.C1",
        "wamid.C3",
        "wamid.C4",
    ]


@pytest.fixture
def seen() -> Iterator[list[tuple[str | None, str, str]]]:
    """A registered inbound hook recording (wamid, its lead, the message's lead) in order."""
    calls: list[tuple[str | None, str, str]] = []

    async def record(session, stored) -> None:  # type: ignore[no-untyped-def]
        for arrival in stored:
            lead, message, event = arrival.lead, arrival.message, arrival.event
            assert message.wa_message_id == event.message_id and lead.last_inbound_at is not None
            calls.append((message.wa_message_id, lead.id, message.lead_id))

    hooks.after_inbound.append(record)
    yield calls
    hooks.after_inbound.remove(record)


async def test_hooks_see_each_message_with_its_lead_in_document_order(
    seen, bodies, harness, db
) -> None:
    await apply_together(
        db,
        inbound(bodies, "wamid.H1", ts=T0),
        inbound(bodies, "wamid.H2", ts=T0 + 1, wa_id="972527654321", user_id="IL.777"),
        inbound(bodies, "wamid.H3", ts=T0 + 2),
        number_change(bodies, "wamid.H4", ts=T0 + 3, to=NEW_NUMBER),
        inbound(bodies, "wamid.H5", ts=T0 + 4, wa_id=NEW_NUMBER, user_id=NEW_BSUID),
    )

    noa = await harness.lead(wa_id=NEW_NUMBER)
    other = await harness.lead(bsuid="IL.777")
    assert noa is not None and other is not None
    expected = [("wamid.H1", noa.id), ("wamid.H2", other.id), ("wamid.H3", noa.id)]
    expected += [("wamid.H4", noa.id), ("wamid.H5", noa.id)]
    assert [(wamid, lead) for wamid, lead, _ in seen] == expected
    assert all(lead == message_lead for _, lead, message_lead in seen)


async def _statements(db: Database, bodies: Any, senders: int, start: int) -> list[str]:
    """The SQL a batch of ``senders`` messages runs: half from leads that wrote before."""
    known = [
        inbound(bodies, f"wamid.S{start + n}", ts=T0, wa_id=f"97252{start + n:07d}", user_id=None)
        for n in range(senders // 2)
    ]
    await apply_together(db, *known)
    batch = [
        inbound(
            bodies, f"wamid.T{start + n}", ts=T0 + 1, wa_id=f"97252{start + n:07d}", user_id=None
        )
        for n in range(senders)
    ]
    return await statements_of(db, apply_together(db, *batch))


async def statements_of(db: Database, applying: Awaitable[object]) -> list[str]:
    """The statements (their first words; savepoints aside) run while ``applying`` runs."""
    run: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE")):
            run.append(statement.split("(")[0].strip())

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        await applying
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    return run


async def test_a_batch_runs_as_many_statements_for_40_messages_as_for_4(
    seen, bodies, harness, db
) -> None:
    few = await _statements(db, bodies, 4, start=0)
    many = await _statements(db, bodies, 40, start=1000)

    assert len(seen) == 2 + 4 + 20 + 40  # a hook is registered: it saw every message
    assert many == few
    assert await count(db, Lead) == 44


async def test_the_phone_behind_a_wa_id_is_worked_out_once_per_sender(bodies, db) -> None:
    phones.from_wa_id.cache_clear()
    batch = [
        inbound(bodies, f"wamid.P{n}", ts=T0 + n, wa_id=wa_id, user_id=None)
        for n, wa_id in enumerate([OLD, NEW_NUMBER] * 3)
    ]
    await apply_together(db, *batch)
    await apply_together(db, inbound(bodies, "wamid.P9", ts=T0 + 9, user_id=None))

    assert phones.from_wa_id.cache_info().misses == 2  # the phone library ran twice


@pytest.fixture
def tripping() -> Iterator[list[tuple[list[str], bool]]]:
    """A registered inbound hook that writes an alert per message and raises on a message
    reading "boom": records each call's wamids and whether hooks said to be careful."""
    calls: list[tuple[list[str], bool]] = []

    async def trips(session, stored) -> None:  # type: ignore[no-untyped-def]
        calls.append(([a.message.wa_message_id for a in stored], hooks.careful(session)))
        for arrival in stored:
            kind = f"hook:{arrival.message.wa_message_id}"
            session.add(Alert(kind=kind, severity="info", message="seen"))
            await session.flush()
            if arrival.event.text == "boom":
                raise RuntimeError("a hook's bug")

    hooks.after_inbound.append(trips)
    yield calls
    hooks.after_inbound.remove(trips)


async def test_a_hook_failing_on_one_message_of_a_run_is_called_again_for_each_alone(
    tripping, bodies, harness, db
) -> None:
    failures = HOOK_FAILURES.labels(hook="trips")
    failed_before = failures._value.get()
    await apply_together(
        db,
        inbound(bodies, "wamid.F1", ts=T0),
        inbound(bodies, "wamid.F2", ts=T0 + 1, text="boom"),
        inbound(bodies, "wamid.F3", ts=T0 + 2),
    )

    whole = ["wamid.F1", "wamid.F2", "wamid.F3"]
    assert tripping == [(whole, False)] + [([wamid], True) for wamid in whole]
    assert failures._value.get() == failed_before + 1, "the message that failed, counted once"
    async with db.session() as session:
        kinds = sorted(await session.scalars(select(Alert.kind)))
    assert kinds == ["hook:wamid.F1", "hook:wamid.F3"], "the failing message's writes undone"
    for wamid in whole:
        assert (await harness.message(wamid)).direction == "inbound", "every message kept"
    async with db.session() as session:
        assert not hooks.careful(session)


async def test_two_batches_of_one_lead_at_once_never_move_its_last_inbound_time_back(
    bodies, harness, db
) -> None:
    """Two processes (workers on PostgreSQL) apply batches with messages of one lead at once:
    the batch that commits last must not write back the older time it read before the
    other committed (the 24-hour window would close early)."""
    if not dialects.is_postgresql(db.engine.dialect):
        pytest.skip("SQLite applies one transaction at a time (BEGIN IMMEDIATE)")
    await apply_together(db, inbound(bodies, "wamid.FIRST", ts=T0))
    lead = await harness.lead(bsuid=OLD_BSUID)
    assert lead is not None
    async with db.engine.connect() as holder:  # another writer holds the lead's row
        await holder.execute(select(Lead.id).where(Lead.id == lead.id).with_for_update())
        newer = asyncio.create_task(apply_together(db, inbound(bodies, "wamid.NEW", ts=T0 + 20)))
        await until_waiting(db, 1)  # the newer message's batch queues first ...
        older = asyncio.create_task(apply_together(db, inbound(bodies, "wamid.OLD", ts=T0 + 10)))
        await until_waiting(db, 2)  # ... then the older one's, having read the lead at T0
        await holder.commit()
    await asyncio.gather(newer, older)
    after = await harness.lead(bsuid=OLD_BSUID)
    assert after is not None and after.last_inbound_at == at(T0 + 20)
    assert await count(db, Message) == 3


async def test_a_number_change_applied_beside_a_newer_message_never_moves_the_window_back(
    bodies, harness, db
) -> None:
    """A message that changes its sender's number is applied alone, from the lead as it read
    it: with another process applying a newer message of the lead at the same time, it must
    not write back its older time when it commits last."""
    if not dialects.is_postgresql(db.engine.dialect):
        pytest.skip("SQLite applies one transaction at a time (BEGIN IMMEDIATE)")
    await apply_together(db, inbound(bodies, "wamid.FIRST", ts=T0))
    lead = await harness.lead(bsuid=OLD_BSUID)
    assert lead is not None
    change = {
        "from": OLD,
        "from_user_id": OLD_BSUID,
        "id": "wamid.CHANGE",
        "timestamp": str(T0 + 10),
        "type": "system",
        "system": {"body": "User Noa changed", "type": "user_changed_number", "wa_id": NEW_NUMBER},
    }
    async with db.engine.connect() as holder:  # another writer holds the lead's row
        await holder.execute(select(Lead.id).where(Lead.id == lead.id).with_for_update())
        newer = asyncio.create_task(apply_together(db, inbound(bodies, "wamid.NEW", ts=T0 + 20)))
        await until_waiting(db, 1)  # the newer message's batch queues first ...
        older = asyncio.create_task(apply_together(db, bodies.envelope({"messages": [change]})))
        await until_waiting(db, 2)  # ... then the number change, having read the lead at T0
        await holder.commit()
    await asyncio.gather(newer, older)
    async with db.session() as session:
        stored = await session.get(Lead, lead.id)
        assert stored is not None and stored.last_inbound_at == at(T0 + 20)
    assert await count(db, Message) == 3
