"""Retention: expired data goes, in batches, by table; a dry run only counts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event as sql_events
from sqlalchemy import func, select

from ovenai import dialects, retention
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.kept_hours import hour_of
from ovenai.lead_fields import LeadCreate, LeadUpdate
from ovenai.leads import create_lead, update_lead
from ovenai.models import (
    AppliedItem,
    AuditEntry,
    CohortHoursStale,
    Lead,
    Message,
    MessageTemplate,
    ResponseTurnsStale,
    StatusEvent,
    WebhookEvent,
    WebhookHoursStale,
)

pytestmark = pytest.mark.anyio
SYSTEM = Actor.system()
POLICY = retention.Policy(
    conversations=timedelta(days=730),
    webhook_logs=timedelta(days=365),
    audit=timedelta(days=730),
    lead_grace=timedelta(days=180),
)


async def _populate(db: Database) -> tuple[str, str]:
    now = utcnow()
    old_lead = await create_lead(db, actor=SYSTEM, data=LeadCreate(name="ישן", phone="0502222222"))
    live_lead = await create_lead(db, actor=SYSTEM, data=LeadCreate(name="חי", phone="0503333333"))
    await update_lead(db, actor=SYSTEM, lead_id=old_lead.id, changes=LeadUpdate(stage="lost"))
    async with db.session() as session:
        lead = await session.get(Lead, old_lead.id)
        assert lead is not None
        lead.closed_at = now - timedelta(days=200)
        for age in (800, 10):
            session.add(
                Message(
                    id=new_id(),
                    lead_id=live_lead.id,
                    direction="inbound",
                    type="text",
                    status="received",
                    created_at=now - timedelta(days=age),
                )
            )
        for age in (400, 400, 5):
            session.add(
                WebhookEvent(
                    id=new_id(), key_bucket="x", body_size=1, received_at=now - timedelta(days=age)
                )
            )
        session.add(
            AuditEntry(
                actor_label="x", action="view", subject_type="lead", at=now - timedelta(days=900)
            )
        )
        session.add(
            MessageTemplate(
                waba_id="w",
                name="welcome_new_lead_he",
                language="he",
                family="welcome_new_lead",
                category="UTILITY",
                status="APPROVED",
                components=[],
            )
        )
        await session.commit()
    return old_lead.id, live_lead.id


async def _count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_dry_run_counts_by_table_and_deletes_nothing(db: Database) -> None:
    await _populate(db)
    counts = await retention.run(db, policy=POLICY, dry_run=True)
    assert counts["messages"] == 1
    assert counts["webhook_events"] == 2
    assert counts["audit_log"] == 1
    assert counts["lead contact details"] == 1
    assert await _count(db, Message) == 2 and await _count(db, WebhookEvent) == 3


async def test_expired_data_is_deleted_and_templates_are_kept(db: Database) -> None:
    old_id, live_id = await _populate(db)
    counts = await retention.run(db, policy=POLICY)
    assert (counts["messages"], counts["webhook_events"], counts["audit_log"]) == (1, 2, 1)
    assert await _count(db, Message) == 1 and await _count(db, WebhookEvent) == 1
    assert await _count(db, MessageTemplate) == 1
    async with db.session() as session:
        old = await session.get(Lead, old_id)
        live = await session.get(Lead, live_id)
    assert old is not None and old.erased_at is not None and old.name_enc is None
    assert live is not None and live.erased_at is None and live.name_enc is not None
    again = await retention.run(db, policy=POLICY)
    assert again["messages"] == 0 and again["lead contact details"] == 0


NOW = utcnow().replace(minute=30, second=0, microsecond=0)


async def _at_the_edges(db: Database) -> str:
    """Of each kind, one row just past its limit and one exactly at it (kept: the limit is
    "older than"); a lead closed just past its grace and one exactly at it."""
    edges = {
        "conversations": NOW - POLICY.conversations,
        "webhooks": NOW - POLICY.webhook_logs,
        "audit": NOW - POLICY.audit,
    }
    just = timedelta(seconds=1)
    lead = await create_lead(db, actor=SYSTEM, data=LeadCreate(name="שני", phone="0504444444"))
    async with db.session() as session:
        for at in (edges["conversations"] - just, edges["conversations"]):
            session.add(
                Message(
                    id=new_id(), lead_id=lead.id, direction="inbound", type="text",
                    status="received", created_at=at,
                )
            )  # fmt: skip
        for n, at in enumerate((edges["webhooks"] - just, edges["webhooks"], NOW)):
            session.add(WebhookEvent(id=new_id(), key_bucket="x", body_size=1, received_at=at))
            session.add(
                StatusEvent(wa_message_id=f"wamid.{n}", status="sent", at=at, received_at=at)
            )
            session.add(AppliedItem(dedupe_key=f"m:wamid.{n}", applied_at=at))
        for at in (edges["audit"] - just, edges["audit"]):
            session.add(AuditEntry(actor_label="x", action="view", subject_type="lead", at=at))
        await session.commit()
    return lead.id


async def test_each_limit_lets_go_only_what_is_older_than_it(db: Database) -> None:
    await _forget_expired_webhook_keys(db)  # no key of an expired hour: none to count
    await _at_the_edges(db)
    expected = {
        "messages": 1, "webhook_events": 1, "status_events": 1, "applied_items": 1,
        "audit_log": 1, "lead contact details": 0, "webhook keys": 0,
    }  # fmt: skip
    assert await retention.run(db, policy=POLICY, now=NOW, dry_run=True) == expected
    assert await retention.run(db, policy=POLICY, now=NOW) == expected
    left = [await _count(db, model) for model in (Message, WebhookEvent, StatusEvent, AppliedItem)]
    async with db.session() as session:
        audit = await session.scalar(select(func.count()).where(AuditEntry.actor_label == "x"))
    assert left + [audit] == [1, 2, 2, 2, 1]


async def _closed(db: Database, name: str, phone: str, closed_at: datetime) -> str:
    lead = await create_lead(db, actor=SYSTEM, data=LeadCreate(name=name, phone=phone))
    await update_lead(db, actor=SYSTEM, lead_id=lead.id, changes=LeadUpdate(stage="lost"))
    async with db.session() as session:
        row = await session.get(Lead, lead.id)
        assert row is not None
        row.closed_at = closed_at
        await session.commit()
    return lead.id


async def test_a_lead_closed_exactly_its_grace_ago_is_kept(db: Database) -> None:
    edge = NOW - POLICY.lead_grace
    gone = await _closed(db, "א", "0505555551", edge - timedelta(seconds=1))
    kept = await _closed(db, "ב", "0505555552", edge)
    young = await _closed(db, "ג", "0505555553", NOW - timedelta(days=1))
    counts = await retention.run(db, policy=POLICY, now=NOW)
    assert counts["lead contact details"] == 1
    async with db.session() as session:
        rows = [await session.get(Lead, i) for i in (gone, kept, young)]
    assert [row is not None and row.erased_at is not None for row in rows] == [True, False, False]


async def test_a_dry_run_erases_no_lead_and_destroys_no_key(db: Database) -> None:
    old_id, _ = await _populate(db)
    await _forget_expired_webhook_keys(db)
    old_hour = (NOW - POLICY.webhook_logs - timedelta(hours=2)).strftime("%Y%m%d%H")
    await db.vault.key("webhook", old_hour, create=True)
    counts = await retention.run(db, policy=POLICY, now=NOW, dry_run=True)
    assert counts["webhook keys"] == 1 and counts["lead contact details"] == 1
    async with db.session() as session:
        lead = await session.get(Lead, old_id)
    assert lead is not None and lead.erased_at is None
    db.vault.forget_cache()
    assert await db.vault.key("webhook", old_hour) is not None  # still there


async def _forget_expired_webhook_keys(db: Database) -> None:
    """Keys of hours past the webhook limit that earlier tests made (the key store is kept
    between tests)."""
    await db.vault.destroy_before("webhook", (NOW - POLICY.webhook_logs).strftime("%Y%m%d%H"))


async def test_webhook_keys_go_by_the_hour_they_are_named_after(db: Database) -> None:
    await _forget_expired_webhook_keys(db)
    cutoff = NOW - POLICY.webhook_logs
    hours = [cutoff - timedelta(hours=30), cutoff - timedelta(hours=1), cutoff, NOW]
    names = [hour.strftime("%Y%m%d%H") for hour in hours]
    for name in names:
        await db.vault.key("webhook", name, create=True)
    await db.vault.key("lead", "0-not-a-webhook-key", create=True)
    counts = await retention.run(db, policy=POLICY, now=NOW)
    assert counts["webhook keys"] == 2
    db.vault.forget_cache()
    assert await db.vault.keys("webhook", names[2:])  # the cutoff's hour and now's stay
    assert await db.vault.key("lead", "0-not-a-webhook-key") is not None


async def test_deletions_and_erasures_go_batch_by_batch_and_count_them_all(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)
    lead = await create_lead(db, actor=SYSTEM, data=LeadCreate(name="ד", phone="0506666666"))
    old = NOW - POLICY.conversations - timedelta(days=1)
    async with db.session() as session:
        for _ in range(5):
            session.add(
                Message(
                    id=new_id(), lead_id=lead.id, direction="inbound", type="text",
                    status="received", created_at=old,
                )
            )  # fmt: skip
        await session.commit()
    for n in range(3):
        await _closed(db, f"ה{n}", f"050777777{n}", NOW - POLICY.lead_grace - timedelta(days=1))
    counts = await retention.run(db, policy=POLICY, now=NOW)
    assert (counts["messages"], counts["lead contact details"]) == (5, 3)
    assert await _count(db, Message) == 0


async def test_what_is_deleted_is_marked_for_the_key_figures_to_count_again(db: Database) -> None:
    """Deleted messages: their leads' reply turns, and the hours their outbound messages were
    sent or failed in; deleted webhook bodies: the hours they arrived in. Nothing kept is."""
    gone = await create_lead(db, actor=SYSTEM, data=LeadCreate(name="ו", phone="0508888881"))
    kept = await create_lead(db, actor=SYSTEM, data=LeadCreate(name="ז", phone="0508888882"))
    old = NOW - POLICY.conversations - timedelta(days=1)
    sent, failed, recent = old + timedelta(hours=1), old + timedelta(hours=3), NOW
    arrived = NOW - POLICY.webhook_logs - timedelta(hours=5)

    def message(lead_id: str, direction: str, **times: datetime) -> Message:
        return Message(
            lead_id=lead_id, direction=direction, type="text", status="sent", created_at=old,
            **times,
        )  # fmt: skip

    async with db.session() as session:
        session.add_all([
            message(gone.id, "outbound", sent_at=sent),
            message(gone.id, "outbound", failed_at=failed),
            message(gone.id, "inbound"),
            Message(lead_id=kept.id, direction="outbound", type="text", status="sent",
                    created_at=recent, sent_at=recent),
            WebhookEvent(id=new_id(), key_bucket="x", body_size=1, received_at=arrived),
            WebhookEvent(id=new_id(), key_bucket="x", body_size=1, received_at=NOW),
        ])  # fmt: skip
        await session.commit()

    counts = await retention.run(db, policy=POLICY, now=NOW)

    assert (counts["messages"], counts["webhook_events"]) == (3, 1)
    async with db.session() as session:
        turns = set(await session.scalars(select(ResponseTurnsStale.lead_id)))
        cohorts = set(await session.scalars(select(CohortHoursStale.hour)))
        bodies = set(await session.scalars(select(WebhookHoursStale.hour)))
    assert turns == {gone.id}
    assert cohorts == {hour_of(sent), hour_of(failed)}
    assert bodies == {hour_of(arrived)}


async def test_what_expired_is_found_by_index(db: Database) -> None:
    """PostgreSQL: each lookup of what expired (and of the closed leads) is an index range,
    not a read of the whole table (migration 0033); scans are forbidden here, so a plan that
    could only read every row still shows a Seq Scan."""
    if not dialects.is_postgresql(db.dialect):
        pytest.skip("the plans are PostgreSQL's")
    await _populate(db)
    lookups: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, sql: str, params: Any, *_rest: Any) -> None:
        if sql.startswith("SELECT") and "LIMIT" in sql:
            lookups.append((sql, params))

    sql_events.listen(db.engine.sync_engine, "before_cursor_execute", keep)
    try:
        await retention.run(db, policy=POLICY)
    finally:
        sql_events.remove(db.engine.sync_engine, "before_cursor_execute", keep)

    tables = {"messages", "status_events", "applied_items", "webhook_events", "audit_log", "leads"}
    assert {sql.split("FROM ", 1)[1].split()[0] for sql, _params in lookups} == tables
    async with db.engine.connect() as connection:
        await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for sql, params in lookups:
            plan = [row[0] for row in await connection.exec_driver_sql("EXPLAIN " + sql, params)]
            assert not any("Seq Scan" in line for line in plan), plan
        await connection.rollback()
