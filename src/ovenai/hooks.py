"""The seam between what happens to leads and what reacts to it (automation, engagement).

Ingestion calls every registered hook after it applies a run of inbound messages or a batch
of status changes, and the leads service after it adds a lead, inside the same transaction,
each hook in a SAVEPOINT of its own (the inbound hooks first all in one): a hook's writes
(say, outbox rows) commit together with the messages that caused them and happen exactly
once, while a hook that raises is rolled back alone, logged and counted, and never stops a
message from being stored.
Registries are empty by default.

An inbound hook takes the whole run (:class:`Arrival` s, in document order), so it reads
what it needs for every message with one query, not one per message; the inbound hooks share
one savepoint while none fails. When one raises, that savepoint is rolled back and each hook
is called again in a savepoint of its own; the one that raised (or any that fails for a run
of several) is called for each message alone, each in a savepoint, with :func:`careful`
true: one message that trips it costs that message's reaction only, and a hook may then
isolate its own parts the same way (automation does, a rule at a time).

Register at start-up (:func:`ovenai.automation.install` does, in serve and the worker)::

    from ovenai import hooks
    hooks.after_inbound.append(my_inbound_hook)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstanceState

from ovenai import dialects
from ovenai.events import InboundMessage
from ovenai.metrics import HOOK_FAILURES
from ovenai.models import Lead, Meeting, Message

log = logging.getLogger("ovenai.hooks")

_CAREFUL = "hooks.careful"
_CHUNK = 500  # ids per IN list


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


@dataclass(frozen=True, slots=True)
class Arrival:
    """An inbound message just stored: its lead and row (loaded in the session) and what
    Meta said."""

    lead: Lead
    message: Message
    event: InboundMessage


InboundHook = Callable[[AsyncSession, Sequence[Arrival]], Awaitable[None]]
StatusHook = Callable[[AsyncSession, Sequence[StatusChange]], Awaitable[None]]
LeadHook = Callable[[AsyncSession, Lead], Awaitable[None]]
MeetingHook = Callable[[AsyncSession, Meeting], Awaitable[None]]
StageHook = Callable[[AsyncSession, Lead, str], Awaitable[None]]
SendFailureHook = Callable[[AsyncSession, Sequence[SendFailure]], Awaitable[None]]

after_inbound: list[InboundHook] = []
"""Called once per applied run of inbound messages (a run of one for a message applied
alone), with each new message, its lead and its event, in document order."""

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


async def run_after_inbound(session: AsyncSession, stored: Sequence[Arrival]) -> None:
    """Call every inbound hook with the run, all in one savepoint; when one raises, nothing
    of theirs is kept and each is called again in a savepoint of its own, the one that raised
    (or any that fails for a run of several) for each message alone (see the module
    docstring)."""
    if not stored or not after_inbound:
        return
    tripped = await _all_together(session, stored)
    if tripped is None:
        return
    stored = await reload(session, stored)
    for hook in after_inbound:
        if len(stored) == 1:
            await _isolated(session, hook.__name__, hook(session, stored))
        elif hook is tripped or not await _isolated(
            session, hook.__name__, hook(session, stored), whole_run=len(stored)
        ):
            await _each_alone(session, hook, stored)
            stored = await reload(session, stored)


async def _all_together(session: AsyncSession, stored: Sequence[Arrival]) -> InboundHook | None:
    """Every inbound hook on the run in one savepoint (a savepoint costs a flush and two
    statements); the hook that raised, if one did: then the savepoint is rolled back."""
    savepoint = await session.begin_nested()
    for hook in after_inbound:
        try:
            await hook(session, stored)
        except Exception as exc:
            await savepoint.rollback()
            log.warning(
                "webhook hook %s failed on a run of %d messages (%s); each hook again alone",
                hook.__name__,
                len(stored),
                exc.__class__.__name__,
            )
            return hook
    await savepoint.commit()
    return None


async def _each_alone(session: AsyncSession, hook: InboundHook, stored: Sequence[Arrival]) -> None:
    """Call a hook for each message of the run alone, each in a savepoint, :func:`careful`."""
    session.info[_CAREFUL] = True
    try:
        for arrival in await reload(session, stored):
            await _isolated(session, hook.__name__, hook(session, [arrival]))
    finally:
        del session.info[_CAREFUL]


def careful(session: AsyncSession) -> bool:
    """Whether inbound hooks are being called a message at a time after one failed for the
    whole run: a hook should then isolate its own parts (a savepoint each)."""
    return bool(session.info.get(_CAREFUL))


async def arrivals(
    session: AsyncSession, stored: Sequence[tuple[str, str]], events: Sequence[InboundMessage]
) -> list[Arrival]:
    """The run's (lead id, message id) pairs and events as arrivals, the messages and their
    leads loaded with one SELECT per 500 (a row already in the session is read afresh)."""
    ordered = sorted({message_id for _, message_id in stored})
    found: dict[str, tuple[Lead, Message]] = {}
    for start in range(0, len(ordered), _CHUNK):
        query = (
            select(Message, Lead)
            .join(Lead, Lead.id == Message.lead_id)
            .where(dialects.one_of(session, Message.id, ordered[start : start + _CHUNK]))
            .execution_options(populate_existing=True)
        )
        for message, lead in await session.execute(query):
            found[message.id] = (lead, message)
    return [
        Arrival(*found[message_id], event)
        for (_, message_id), event in zip(stored, events, strict=True)
    ]


async def reload(session: AsyncSession, stored: Sequence[Arrival]) -> list[Arrival]:
    """The same arrivals read afresh (after a rolled-back savepoint expired some of them).

    The ids come from each row's identity key: reading ``lead.id`` of an expired row would
    load it, which an async session cannot do on attribute access."""
    pairs = [(_key(arrival.lead), _key(arrival.message)) for arrival in stored]
    return await arrivals(session, pairs, [arrival.event for arrival in stored])


def _key(row: Lead | Message) -> str:
    state: InstanceState[Lead | Message] = inspect(row)
    identity = state.identity
    assert identity is not None  # loaded from the database, so persistent
    return str(identity[0])


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


async def _isolated(
    session: AsyncSession, name: str, call: Awaitable[None], *, whole_run: int = 0
) -> bool:
    """Run one hook call in a savepoint; a failure rolls back only the hook's writes.
    Whether it succeeded. A failure for a ``whole_run`` of messages is only noted: the
    hook is called again for each message, and those failures are the ones counted."""
    savepoint = await session.begin_nested()
    try:
        await call
    except Exception as exc:
        await savepoint.rollback()
        if whole_run:
            log.warning(
                "webhook hook %s failed for a run of %d messages (%s); calling it for each alone",
                name,
                whole_run,
                exc.__class__.__name__,
            )
            return False
        HOOK_FAILURES.labels(hook=name).inc()
        log.exception("webhook hook %s failed; the message is kept, the hook skipped", name)
        return False
    await savepoint.commit()
    return True
