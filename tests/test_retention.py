"""Retention: expired data goes, in batches, by table; a dry run only counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ovenai import retention
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.lead_fields import LeadCreate, LeadUpdate
from ovenai.leads import create_lead, update_lead
from ovenai.models import AuditEntry, Lead, Message, MessageTemplate, WebhookEvent

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
