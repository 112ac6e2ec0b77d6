"""The seam between what happens to leads and what reacts to it (automation, engagement).

Ingestion calls every registered hook after it applies an inbound message or a batch of
status changes, and the leads service after it adds a lead, inside the same transaction,
each hook in a SAVEPOINT of its own: a hook's writes (say, outbox rows) commit together
with the message that caused them and happen exactly once, while a hook that raises is
rolled back alone, logged and counted, and never stops the message from being stored.
Registries are empty by default.

Register at start-up (:func:`ovenai.automation.install` does, in serve and the worker)::

    from ovenai import hooks
    hooks.after_inbound.append(my_inbound_hook)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ovenai.events import InboundMessage
from ovenai.metrics import HOOK_FAILURES
from ovenai.models import Lead, Meeting, Message

log = logging.getLogger("ovenai.hooks")


@dataclass(frozen=True, slots=True)
class StatusChange:
    """An outbound message whose delivery status moved forward."""

    message_id: str
    lead_id: str
    wa_message_id: str
    previous: str
    status: str
    at: datetime
    error_code: int | None


@dataclass(frozen=True, slots=True)
class SendFailure:
    """A send Meta refused when it was made (the outbox's outcome, not a status webhook)."""

    message_id: str
    error_code: int | None


InboundHook = Callable[[AsyncSession, Lead, Message, InboundMessage], Awaitable[None]]
StatusHook = Callable[[AsyncSession, Sequence[StatusChange]], Awaitable[None]]
LeadHook = Callable[[AsyncSession, Lead], Awaitable[None]]
MeetingHook = Callable[[AsyncSession, Meeting], Awaitable[None]]
StageHook = Callable[[AsyncSession, Lead, str], Awaitable[None]]
SendFailureHook = Callable[[AsyncSession, Sequence[SendFailure]], Awaitable[None]]

after_inbound: list[InboundHook] = []
"""Called once per newly applied inbound message, with its lead and stored message."""

after_status: list[StatusHook] = []
"""Called once per applied batch with every message whose status moved forward."""

after_lead_created: list[LeadHook] = []
"""Called once per lead added through the API (and an import asked to greet), in the
transaction that adds it (the row is flushed)."""

after_stage_changed: list[StageHook] = []
"""Called when an agent or the API changes a lead's stage (with the stage before), in the
transaction that does it; automation's own stage moves do not call it."""

after_send_failed: list[SendFailureHook] = []
"""Called when the outbox stores sends Meta refused on the spot (their error codes), in the
transaction that stores them (the consent ledger records a 131050 there)."""

after_meeting_booked: list[MeetingHook] = []
"""Called when a viewing is created proposed or confirmed, or changed to confirmed, in the
transaction that does it (the row is flushed)."""


async def run_after_inbound(
    session: AsyncSession, lead: Lead, message: Message, event: InboundMessage
) -> None:
    """Call every inbound hook, each isolated in a savepoint."""
    for hook in after_inbound:
        await _isolated(session, hook.__name__, hook(session, lead, message, event))


async def run_after_status(session: AsyncSession, changes: Sequence[StatusChange]) -> None:
    """Call every status hook with the batch's changes (skipped when there are none)."""
    if not changes:
        return
    for hook in after_status:
        await _isolated(session, hook.__name__, hook(session, changes))


async def run_after_send_failed(session: AsyncSession, failures: Sequence[SendFailure]) -> None:
    """Call every send-failure hook with the failures (skipped when there are none)."""
    if not failures:
        return
    for hook in after_send_failed:
        await _isolated(session, hook.__name__, hook(session, failures))


async def run_after_lead_created(session: AsyncSession, lead: Lead) -> None:
    """Call every lead hook, each isolated in a savepoint."""
    for hook in after_lead_created:
        await _isolated(session, hook.__name__, hook(session, lead))


async def run_after_stage_changed(session: AsyncSession, lead: Lead, previous: str) -> None:
    """Call every stage hook, each isolated in a savepoint."""
    for hook in after_stage_changed:
        await _isolated(session, hook.__name__, hook(session, lead, previous))


async def run_after_meeting_booked(session: AsyncSession, meeting: Meeting) -> None:
    """Call every meeting hook, each isolated in a savepoint."""
    for hook in after_meeting_booked:
        await _isolated(session, hook.__name__, hook(session, meeting))


async def _isolated(session: AsyncSession, name: str, call: Awaitable[None]) -> None:
    """Run one hook call in a savepoint; a failure rolls back only the hook's writes."""
    savepoint = await session.begin_nested()
    try:
        await call
    except Exception:
        await savepoint.rollback()
        HOOK_FAILURES.labels(hook=name).inc()
        log.exception("webhook hook %s failed; the message is kept, the hook skipped", name)
        return
    await savepoint.commit()
