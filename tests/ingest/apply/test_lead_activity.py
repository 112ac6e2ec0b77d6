"""Each lead's kept last activity and newest message (migration 0025's triggers) against the
truth counted from its messages, after a mix of every kind of message write: the inbound
apply of webhooks (new senders, a known one, messages out of order in one batch), an agent's
queued message, one older than the newest, several leads' messages in one statement, a
retention-like delete of a newest message and of all of a lead's messages, a message moved
to another time and to another lead, a lead's deletion, a lead with no message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, insert, select, update

from ingest.conftest import Harness, text_body
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.lead_fields import LeadCreate
from ovenai.leads import create_lead
from ovenai.models import Lead, Message

pytestmark = pytest.mark.anyio
SYSTEM = Actor.system()
T0 = 1767000000


def _row(lead_id: str, at: datetime, direction: str = "out") -> dict[str, object]:
    status = "received" if direction == "in" else "sent"
    return {
        "id": new_id(),
        "lead_id": lead_id,
        "direction": direction,
        "type": "text",
        "status": status,
        "status_at": at,
        "created_at": at,
        "updated_at": at,
        "attempts": 0,
        "throttled_attempts": 0,
    }


async def _kept_and_truth(
    db: Database,
) -> tuple[dict[str, tuple[datetime | None, str | None]], dict[str, tuple[datetime, str | None]]]:
    """Each lead's kept (last activity, newest message id), and the same counted afresh."""
    async with db.session() as session:
        leads = list(await session.scalars(select(Lead)))
        newest = (Message.created_at.desc(), Message.id.desc())
        truth: dict[str, tuple[datetime, str | None]] = {}
        for lead in leads:
            query = select(Message.created_at, Message.id).where(Message.lead_id == lead.id)
            first = (await session.execute(query.order_by(*newest).limit(1))).first()
            truth[lead.id] = (first[0], first[1]) if first else (lead.created_at, None)
        kept = {lead.id: (lead.last_activity_at, lead.latest_message_id) for lead in leads}
    return kept, truth


async def _lead(db: Database, phone: str) -> str:
    data = LeadCreate.model_validate({"name": "Dana Levi", "phone": phone})
    return (await create_lead(db, actor=SYSTEM, data=data)).id


async def test_the_kept_last_activity_is_the_newest_message_after_every_kind_of_write(
    db: Database, harness: Harness
) -> None:
    # Webhooks: two senders; the first writes twice in one batch, the newer message first.
    await harness.deliver(
        text_body("wamid.activity.1", "שלום", wa_id="972521110001", user_id=None, ts=T0 + 20),
        text_body("wamid.activity.2", "עוד", wa_id="972521110001", user_id=None, ts=T0 + 10),
        text_body("wamid.activity.3", "היי", wa_id="972521110002", user_id=None, ts=T0 + 5),
    )
    kept, truth = await _kept_and_truth(db)
    assert len(truth) == 2 and all(message_id for _, message_id in truth.values())
    assert kept == truth
    quiet = await _lead(db, "050-111-3301")  # no message: its creation
    moved_to = await _lead(db, "050-111-3302")
    async with db.session() as session:
        first = await session.scalar(select(Lead.id).where(Lead.id.not_in([quiet, moved_to])))
        assert first is not None
        now = utcnow()
        # An agent's message now, then (another statement) one older than the newest.
        session.add(Message(**_row(first, now)))
        await session.flush()
        session.add(Message(**_row(first, now - timedelta(days=400))))
        await session.commit()
    kept, truth = await _kept_and_truth(db)
    assert kept == truth and kept[first][0] == now
    assert kept[quiet] == (truth[quiet][0], None)
    everyone = list(truth)
    async with db.session() as session:
        # One statement, several leads, several messages each (a campaign, a bulk apply).
        rows = [
            _row(lead, now + timedelta(seconds=n % 3), "in") for n, lead in enumerate(everyone * 3)
        ]
        await session.execute(insert(Message), rows)
        await session.commit()
    kept, truth = await _kept_and_truth(db)
    assert kept == truth and all(message_id for _, message_id in kept.values())
    async with db.session() as session:
        # Retention: a lead's newest message, then all of another's (one statement each).
        await session.execute(delete(Message).where(Message.id == kept[first][1]))
        await session.execute(delete(Message).where(Message.lead_id == quiet))
        await session.commit()
    after, truth = await _kept_and_truth(db)
    assert after == truth
    assert after[first][1] != kept[first][1] and after[quiet] == (truth[quiet][0], None)
    async with db.session() as session:
        # A message moved to a later time, and another to another lead.
        oldest = await session.scalar(
            select(Message.id).where(Message.lead_id == first).order_by(Message.created_at)
        )
        later = now + timedelta(hours=1)
        await session.execute(update(Message).where(Message.id == oldest).values(created_at=later))
        await session.execute(update(Message).where(Message.id == oldest).values(lead_id=moved_to))
        await session.commit()
    kept, truth = await _kept_and_truth(db)
    assert kept == truth and kept[moved_to] == (later, oldest)
    async with db.session() as session:  # a lead's deletion takes its messages along
        await session.execute(delete(Lead).where(Lead.id == moved_to))
        await session.commit()
    kept, truth = await _kept_and_truth(db)
    assert kept == truth and moved_to not in kept
