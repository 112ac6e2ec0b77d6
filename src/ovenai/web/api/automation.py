"""/api/v1/automation: the rules that work the leads (admins edit them) and their log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, StringConstraints

from ovenai import automation
from ovenai.automation.definitions import RuleDefinition
from ovenai.web.api.schemas import (
    PagePublic,
    PublicModel,
    answer,
    list_model,
    page_answer,
    page_model,
    public_model,
)
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/automation", tags=["automation"])

RulePublic = public_model(
    automation.RuleRecord,
    "AutomationRulePublic",
    "A rule: its trigger, conditions and actions, whether it runs, and how it has fared."
    " A stored rule that no longer validates has `definition` null and `invalid` saying why.",
    private=("stored",),
)
FiringPublic = public_model(
    automation.FiringRecord,
    "AutomationFiringPublic",
    "What a rule did for a lead and an event, or why it did nothing (never the lead's words).",
)


class RuleCreate(BaseModel):
    """A new rule: a key (lowercase, digits, underscores), its definition, on or off."""

    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    enabled: bool = True
    definition: RuleDefinition


class RuleChange(BaseModel):
    """What to change: the definition (whole), whether it runs, or both."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    definition: RuleDefinition | None = None


@router.get("/rules", response_model=list_model(RulePublic))
async def list_rules(db: DbDep, actor: ActorDep, settings: SettingsDep) -> list[PublicModel]:
    """Every rule in run order."""
    found = await automation.list_rules(db, actor=actor)
    return [answer(RulePublic, record, settings.zone) for record in found]


@router.post("/rules", response_model=RulePublic, status_code=201)
async def create_rule(
    body: RuleCreate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Add a rule (admins); it runs after the existing ones."""
    record = await automation.create_rule(
        db, actor=actor, key=body.key, definition=body.definition, enabled=body.enabled
    )
    return answer(RulePublic, record, settings.zone)


@router.get("/rules/{rule}", response_model=RulePublic)
async def get_rule(rule: str, db: DbDep, actor: ActorDep, settings: SettingsDep) -> PublicModel:
    """One rule, by key or id."""
    return answer(RulePublic, await automation.get_rule(db, actor=actor, rule=rule), settings.zone)


@router.patch("/rules/{rule}", response_model=RulePublic)
async def change_rule(
    rule: str, body: RuleChange, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Switch a rule on or off, or replace its definition (admins)."""
    record = await automation.update_rule(
        db, actor=actor, rule=rule, definition=body.definition, enabled=body.enabled
    )
    return answer(RulePublic, record, settings.zone)


@router.delete("/rules/{rule}", status_code=204)
async def delete_rule(rule: str, db: DbDep, actor: ActorDep) -> Response:
    """Remove a rule and its log (admins); ``PATCH {"enabled": false}`` keeps the log."""
    await automation.delete_rule(db, actor=actor, rule=rule)
    return Response(status_code=204)


@router.get("/firings", response_model=page_model(FiringPublic))
async def list_firings(
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    query: Annotated[automation.FiringQuery, Query()],
) -> PagePublic[PublicModel]:
    """The log newest first, for the leads the caller may see: ``rule`` (key or id),
    ``lead_id``, ``outcome`` (done, skipped, failed), ``cursor``, ``limit``."""
    page = await automation.list_firings(db, actor=actor, query=query)
    return page_answer(FiringPublic, page, settings.zone)
