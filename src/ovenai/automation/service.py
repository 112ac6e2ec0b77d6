"""Managing the rules: seeding them, listing, editing, switching them on and off, and reading
what they did. The REST API, the dashboard and ``ovenai automation`` all call these.

Admins manage rules; everyone may read the log of the leads they may see (agents: theirs
and unassigned ones). Every change is audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import audit
from ovenai.auth import Actor
from ovenai.automation.definitions import SEED_FILE, RuleDefinition, load_seed, read_stored
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.errors import Conflict, NotFound, PermissionDenied
from ovenai.leads import visible_to
from ovenai.models import AutomationFiring, AutomationRule, Lead
from ovenai.pagination import Page, PageQuery, decode_cursor, encode_cursor


@dataclass(frozen=True)
class RuleRecord:
    """A rule as shown: its definition, whether it runs, and how it has fared. A stored
    definition that no longer validates has ``definition`` None and ``invalid`` saying
    why (such a rule does not run); ``stored`` is its text as stored, to be edited."""

    id: str
    key: str
    position: int
    enabled: bool
    definition: RuleDefinition | None
    invalid: str | None
    stored: str
    created_at: datetime
    updated_at: datetime
    updated_by: str | None
    done: int
    skipped: int
    failed: int
    last_fired_at: datetime | None


@dataclass(frozen=True)
class FiringRecord:
    """One line of the log: what a rule did for a lead, or why it did nothing."""

    id: str
    rule_id: str
    rule_key: str
    lead_id: str
    event: str
    outcome: str
    detail: str
    message_id: str | None
    at: datetime


@dataclass(frozen=True)
class SeedReport:
    """What seeding added, and what it left as it was (already there, maybe edited)."""

    added: list[str]
    kept: list[str]


class FiringQuery(PageQuery):
    """Filters of the log (newest first)."""

    rule: str | None = None
    lead_id: str | None = None
    outcome: str | None = None


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("only admins may change automation rules")


async def seed_rules(db: Database, path: Path = SEED_FILE) -> SeedReport:
    """Add the seed file's rules whose key is not stored yet; stored ones (maybe edited, maybe
    switched off) are never touched. Run by ``ovenai db upgrade`` and the sandbox."""
    seeds = load_seed(path)
    report = SeedReport(added=[], kept=[])
    async with db.session() as session:
        stored = set(await session.scalars(select(AutomationRule.key)))
        position = await _last_position(session)
        for seed in seeds:
            if seed.key in stored:
                report.kept.append(seed.key)
                continue
            position += 1
            session.add(
                AutomationRule(
                    id=new_id(),
                    key=seed.key,
                    position=position,
                    enabled=seed.enabled,
                    definition=_stored(seed.definition()),
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
            report.added.append(seed.key)
        await session.commit()
    return report


async def _last_position(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.max(AutomationRule.position))) or 0)


def _stored(definition: RuleDefinition) -> str:
    return json.dumps(definition.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False)


async def list_rules(db: Database, *, actor: Actor) -> list[RuleRecord]:
    """Every rule in run order, with counts of what it did (any signed-in user may read)."""
    async with db.reading() as session:
        rows = list(
            await session.scalars(
                select(AutomationRule).order_by(AutomationRule.position, AutomationRule.key)
            )
        )
        counts = await _counts(session)
    return [_record(row, counts.get(row.id, {})) for row in rows]


async def get_rule(db: Database, *, actor: Actor, rule: str) -> RuleRecord:
    """One rule by id or key; NotFound otherwise."""
    async with db.reading() as session:
        row = await _find(session, rule)
        counts = await _counts(session, row.id)
    return _record(row, counts.get(row.id, {}))


async def _find(session: AsyncSession, rule: str) -> AutomationRule:
    found = await session.scalar(
        select(AutomationRule).where(or_(AutomationRule.id == rule, AutomationRule.key == rule))
    )
    if found is None:
        raise NotFound(f"no automation rule {rule}")
    return found


async def _counts(
    session: AsyncSession, rule_id: str | None = None
) -> dict[str, dict[str, int | datetime]]:
    query = select(
        AutomationFiring.rule_id,
        AutomationFiring.outcome,
        func.count(),
        func.max(AutomationFiring.at),
    ).group_by(AutomationFiring.rule_id, AutomationFiring.outcome)
    if rule_id is not None:
        query = query.where(AutomationFiring.rule_id == rule_id)
    counts: dict[str, dict[str, int | datetime]] = {}
    for found_id, outcome, count, last in (await session.execute(query)).all():
        entry = counts.setdefault(found_id, {})
        entry[outcome] = int(count)
        previous = entry.get("last")
        if last is not None and (not isinstance(previous, datetime) or last > previous):
            entry["last"] = last
    return counts


def _record(row: AutomationRule, counts: dict[str, int | datetime]) -> RuleRecord:
    last = counts.get("last")
    definition, invalid = read_stored(row.definition)

    def count(name: str) -> int:
        value = counts.get(name, 0)
        return value if isinstance(value, int) else 0

    return RuleRecord(
        id=row.id,
        key=row.key,
        position=row.position,
        enabled=row.enabled,
        definition=definition,
        invalid=invalid,
        stored=row.definition,
        created_at=row.created_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        done=count("done"),
        skipped=count("skipped"),
        failed=count("failed"),
        last_fired_at=last if isinstance(last, datetime) else None,
    )


async def create_rule(
    db: Database, *, actor: Actor, key: str, definition: RuleDefinition, enabled: bool = True
) -> RuleRecord:
    """Add a rule (it runs after the existing ones); Conflict if the key is taken."""
    _require_admin(actor)
    async with db.session() as session:
        taken = await session.scalar(select(AutomationRule.id).where(AutomationRule.key == key))
        if taken is not None:
            raise Conflict(f"a rule with the key {key} exists")
        now = utcnow()
        row = AutomationRule(
            id=new_id(),
            key=key,
            position=await _last_position(session) + 1,
            enabled=enabled,
            definition=_stored(definition),
            created_at=now,
            updated_at=now,
            updated_by=actor.user_id,
        )
        session.add(row)
        _audit(session, actor, "automation_rule_create", row.id, key=key)
        await session.commit()
    return _record(row, {})


async def update_rule(
    db: Database,
    *,
    actor: Actor,
    rule: str,
    definition: RuleDefinition | None = None,
    enabled: bool | None = None,
) -> RuleRecord:
    """Change a rule's definition and/or switch it on or off (admins); audited."""
    _require_admin(actor)
    async with db.session() as session:
        row = await _find(session, rule)
        changed: list[str] = []
        if definition is not None:
            row.definition = _stored(definition)
            changed.append("definition")
        if enabled is not None and enabled != row.enabled:
            row.enabled = enabled
            changed.append("enabled" if enabled else "disabled")
        if changed:
            row.updated_at = utcnow()
            row.updated_by = actor.user_id
            _audit(session, actor, "automation_rule_update", row.id, key=row.key, changes=changed)
        await session.commit()
        counts = await _counts(session, row.id)
    return _record(row, counts.get(row.id, {}))


async def delete_rule(db: Database, *, actor: Actor, rule: str) -> None:
    """Remove a rule and its log (admins); switching it off keeps the log instead."""
    _require_admin(actor)
    async with db.session() as session:
        row = await _find(session, rule)
        _audit(session, actor, "automation_rule_delete", row.id, key=row.key)
        await session.delete(row)
        await session.commit()


def _audit(
    session: AsyncSession, actor: Actor, action: str, rule_id: str, **details: object
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        subject_type="automation_rule",
        subject_id=rule_id,
        details=details,
    )


async def list_firings(db: Database, *, actor: Actor, query: FiringQuery) -> Page[FiringRecord]:
    """The log, newest first, of the leads the actor may see."""
    async with db.reading() as session:
        statement = (
            select(AutomationFiring, AutomationRule.key)
            .join(AutomationRule, AutomationRule.id == AutomationFiring.rule_id)
            .join(Lead, Lead.id == AutomationFiring.lead_id)
            .where(visible_to(actor))
        )
        if query.rule:
            rule = await _find(session, query.rule)
            statement = statement.where(AutomationFiring.rule_id == rule.id)
        if query.lead_id:
            statement = statement.where(AutomationFiring.lead_id == query.lead_id)
        if query.outcome:
            statement = statement.where(AutomationFiring.outcome == query.outcome)
        if query.cursor:
            statement = statement.where(AutomationFiring.id < decode_cursor(query.cursor))
        statement = statement.order_by(AutomationFiring.id.desc()).limit(query.limit + 1)
        rows = (await session.execute(statement)).all()
    items = [
        FiringRecord(
            id=firing.id,
            rule_id=firing.rule_id,
            rule_key=key,
            lead_id=firing.lead_id,
            event=firing.event,
            outcome=firing.outcome,
            detail=firing.detail,
            message_id=firing.message_id,
            at=firing.at,
        )
        for firing, key in rows[: query.limit]
    ]
    more = len(rows) > query.limit
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more and items else None)
