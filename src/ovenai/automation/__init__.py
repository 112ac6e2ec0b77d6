"""Automation: rules that work the leads by themselves (greet, move the stage, assign ...).

``definitions`` says what a rule is, ``engine`` runs the rules on each inbound message and
each new lead (inside the transaction that stored it: see :mod:`ovenai.hooks`), ``service``
manages them (REST API, dashboard, ``ovenai automation``). The rules an agency starts with
are in ``default_rules.yaml``; ``ovenai db upgrade`` and the sandbox add the ones missing.

A process that applies webhooks, adds leads or books viewings calls :func:`install` once it
has its database (serve and the worker do); until then the hooks are not there and nothing
runs. The timed rules (a viewing tomorrow, a viewing passed, no reply for N days) and the
due steps of follow-up sequences (``sequences``) are the worker's job ``automation.timed``
(``timed``), registered when this package is imported. A rule's ``notify_agent`` writes
in-app notifications (:mod:`ovenai.notifications`, whose e-mail job is registered too).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import hooks
from ovenai.automation.definitions import RuleDefinition, SeedRule, load_seed, parse_definition
from ovenai.automation.engine import Setup, enabled_rules
from ovenai.automation.service import (
    FiringQuery,
    FiringRecord,
    RuleRecord,
    SeedReport,
    create_rule,
    delete_rule,
    get_rule,
    list_firings,
    list_rules,
    seed_rules,
    update_rule,
)
from ovenai.keystore import Vault
from ovenai.models import Lead, Meeting
from ovenai.settings import Settings

_setup: Setup | None = None


def install(settings: Settings, vault: Vault) -> None:
    """Run the rules in this process from now on (idempotent: once installed, a second call
    only replaces the set-up, e.g. the key store of a database opened again)."""
    global _setup
    _setup = Setup.from_settings(settings, vault)
    if automation_after_inbound not in hooks.after_inbound:
        hooks.after_inbound.append(automation_after_inbound)
    if automation_after_lead_created not in hooks.after_lead_created:
        hooks.after_lead_created.append(automation_after_lead_created)
    if automation_after_meeting_booked not in hooks.after_meeting_booked:
        hooks.after_meeting_booked.append(automation_after_meeting_booked)
    if automation_after_stage_changed not in hooks.after_stage_changed:
        hooks.after_stage_changed.append(automation_after_stage_changed)


def uninstall() -> None:
    """Stop running the rules in this process (tests)."""
    global _setup
    _setup = None
    for registry, hook in (
        (hooks.after_inbound, automation_after_inbound),
        (hooks.after_lead_created, automation_after_lead_created),
        (hooks.after_meeting_booked, automation_after_meeting_booked),
        (hooks.after_stage_changed, automation_after_stage_changed),
    ):
        while hook in registry:
            registry.remove(hook)  # type: ignore[arg-type]


async def automation_after_inbound(session: AsyncSession, stored: Sequence[hooks.Arrival]) -> None:
    """The inbound hook: the rules a run of inbound messages triggers."""
    if _setup is not None:
        await engine.on_inbound(session, _setup, stored)


async def automation_after_lead_created(session: AsyncSession, lead: Lead) -> None:
    """The new-lead hook: the rules a new lead triggers."""
    if _setup is not None:
        await engine.on_lead_created(session, _setup, lead)


async def automation_after_meeting_booked(session: AsyncSession, meeting: Meeting) -> None:
    """The meeting hook: the rules a booked viewing triggers."""
    if _setup is not None:
        await engine.on_meeting_booked(session, _setup, meeting)


async def automation_after_stage_changed(session: AsyncSession, lead: Lead, previous: str) -> None:
    """The stage hook: the rules a change of stage by an agent or the API triggers."""
    if _setup is not None:
        await engine.on_stage_changed(session, _setup, lead, previous)


from ovenai.automation import engine, timed  # noqa: E402, F401  (timed: registers its job)

__all__ = [
    "FiringQuery",
    "FiringRecord",
    "RuleDefinition",
    "RuleRecord",
    "SeedReport",
    "SeedRule",
    "Setup",
    "create_rule",
    "delete_rule",
    "enabled_rules",
    "get_rule",
    "install",
    "list_firings",
    "list_rules",
    "load_seed",
    "parse_definition",
    "seed_rules",
    "uninstall",
    "update_rule",
]
