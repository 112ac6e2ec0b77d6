"""Follow-up sequences: the enrolments of leads in a rule's ``start_sequence`` steps.

An enrolment is a row (``automation_enrolments``): the rule, the lead, the event that
enrolled them, the lead's stage then, the next step and when it is due. The worker's job
(:mod:`ovenai.automation.timed`) runs each due step once — its firing is logged under the
event ``seq:<enrolment>:<step>`` with the engine's once-only index and idempotency key, so a
step is never sent twice, even after a crash — through the outbox, and moves the enrolment
on. Nothing is held in memory: a restarted worker finds the due steps where they were.

A sequence stops (``stopped_reason``) the moment the lead answers (any inbound message after
the enrolment: the inbound hook stops it at once), opts out, changes stage (an agent's
change stops it at once; a rule's is seen at the next step), is erased, or when its rule
is removed from it, switched off or no longer readable; after the last step it is
``finished``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects
from ovenai.automation.definitions import RuleDefinition, SequenceStep, StartSequence
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.models import AutomationRule, Lead, SequenceEnrolment

ANSWERED = "answered"
OPTED_OUT = "opted_out"
STAGE_CHANGED = "stage_changed"
FINISHED = "finished"
ERASED = "erased"
RULE_OFF = "rule_off"
REASONS = (ANSWERED, OPTED_OUT, STAGE_CHANGED, FINISHED, ERASED, RULE_OFF)
SLACK = timedelta(seconds=60)
"""Meta's timestamp of the message that enrolled a lead may run ahead of our clock: only a
message later than this after the enrolment reads as an answer at a step (an answer is
stopped at once by the inbound hook anyway)."""


@dataclass(frozen=True)
class EnrolmentRecord:
    """A lead in a sequence, as the pages show it."""

    id: str
    rule_id: str
    rule_key: str
    lead_id: str
    stage: str
    next_step: int
    steps: int
    started_at: datetime
    due_at: datetime | None
    stopped_at: datetime | None
    stopped_reason: str | None


def sequence_of(definition: RuleDefinition) -> StartSequence | None:
    """The rule's sequence (its first ``start_sequence`` action), if it has one."""
    for action in definition.actions:
        if isinstance(action, StartSequence):
            return action
    return None


def due_after(started_at: datetime, step: SequenceStep) -> datetime:
    """When a step is due: its days after the enrolment."""
    return started_at + timedelta(days=step.after_days)


async def enrol(
    session: AsyncSession,
    *,
    rule_id: str,
    lead: Lead,
    event: str,
    action: StartSequence,
) -> SequenceEnrolment | None:
    """Enrol the lead (once per rule, lead and event); None when it already is, for this
    event. A lead already running in this rule's sequence for another event is left in it
    (it is not enrolled twice at once)."""
    running = await session.scalar(
        select(SequenceEnrolment.id).where(
            SequenceEnrolment.rule_id == rule_id,
            SequenceEnrolment.lead_id == lead.id,
            SequenceEnrolment.stopped_at.is_(None),
        )
    )
    if running is not None:
        return None
    now = utcnow()
    row = SequenceEnrolment(
        id=new_id(),
        rule_id=rule_id,
        lead_id=lead.id,
        event=event[:80],
        stage=lead.stage,
        next_step=0,
        started_at=now,
        due_at=due_after(now, action.steps[0]),
    )
    session.add(row)
    await session.flush()
    return row


def why_stop(enrolment: SequenceEnrolment, lead: Lead | None) -> str | None:
    """Why this enrolment must stop now (the lead's state read at a step); None to go on."""
    if lead is None or lead.erased_at is not None:
        return ERASED
    if lead.opted_out_at is not None:
        return OPTED_OUT
    if lead.last_inbound_at is not None and lead.last_inbound_at > enrolment.started_at + SLACK:
        return ANSWERED
    if lead.stage != enrolment.stage:
        return STAGE_CHANGED
    return None


def stop(enrolment: SequenceEnrolment, reason: str) -> None:
    """End the enrolment with its reason."""
    enrolment.stopped_at = utcnow()
    enrolment.stopped_reason = reason
    enrolment.due_at = None


async def stop_for_leads(
    session: AsyncSession,
    lead_ids: Collection[str],
    reason: str,
    *,
    unless_stage: str | None = None,
) -> None:
    """Stop every running enrolment of these leads (``unless_stage``: those enrolled in that
    stage go on); one UPDATE per 500 leads."""
    ordered = sorted(lead_ids)
    for start in range(0, len(ordered), 500):
        statement = update(SequenceEnrolment).where(
            dialects.one_of(session, SequenceEnrolment.lead_id, ordered[start : start + 500]),
            SequenceEnrolment.stopped_at.is_(None),
        )
        if unless_stage is not None:
            statement = statement.where(SequenceEnrolment.stage != unless_stage)
        await session.execute(
            statement.values(stopped_at=utcnow(), stopped_reason=reason, due_at=None),
            execution_options={"synchronize_session": False},
        )


async def due(db: Database, at: datetime, limit: int = 500) -> list[str]:
    """The running enrolments whose next step is due, oldest first."""
    async with db.session() as session:
        query = (
            select(SequenceEnrolment.id)
            .where(SequenceEnrolment.stopped_at.is_(None), SequenceEnrolment.due_at <= at)
            .order_by(SequenceEnrolment.due_at)
            .limit(limit)
        )
        return list(await session.scalars(query))


async def list_enrolments(
    db: Database,
    *,
    lead_id: str | None = None,
    rule_id: str | None = None,
    limit: int = 100,
) -> list[EnrolmentRecord]:
    """Enrolments newest first, of a lead or of a rule (the callers check who may see
    them: the lead page its lead, the automation page is the admins')."""
    query = select(SequenceEnrolment, AutomationRule.key, AutomationRule.definition).join(
        AutomationRule, AutomationRule.id == SequenceEnrolment.rule_id
    )
    if lead_id is not None:
        query = query.where(SequenceEnrolment.lead_id == lead_id)
    if rule_id is not None:
        query = query.where(SequenceEnrolment.rule_id == rule_id)
    query = query.order_by(SequenceEnrolment.started_at.desc(), SequenceEnrolment.id.desc())
    async with db.session() as session:
        rows = (await session.execute(query.limit(limit))).all()
    return [
        EnrolmentRecord(
            id=row.id,
            rule_id=row.rule_id,
            rule_key=key,
            lead_id=row.lead_id,
            stage=row.stage,
            next_step=row.next_step,
            steps=_step_count(definition),
            started_at=row.started_at,
            due_at=row.due_at,
            stopped_at=row.stopped_at,
            stopped_reason=row.stopped_reason,
        )
        for row, key, definition in rows
    ]


def _step_count(stored: str) -> int:
    try:
        sequence = sequence_of(RuleDefinition.model_validate_json(stored))
    except ValueError:  # a rule that no longer validates (pydantic's error is a ValueError)
        return 0
    return len(sequence.steps) if sequence else 0
