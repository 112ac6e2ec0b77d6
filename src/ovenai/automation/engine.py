"""Running the rules: on each inbound message, new lead, booked viewing and change of stage,
inside the transaction that stored it (and for the timed triggers, :mod:`.timed`), every
enabled rule whose trigger and conditions match acts — once.

Guards, checked before a rule sends anything:

- **Once per lead and event.** A rule's firing is logged under (rule, lead, event) with a
  unique index, and its sends carry the idempotency key ``auto:<rule>:<event>``: a body
  applied again after a crash, or the same event seen twice, sends nothing more.
- **No answer to an automatic answer.** A typed message sent within :data:`AUTO_ANSWER_S`
  after Meta accepted an automated message to the same lead (Meta's timestamp of the
  message against ours of the send) is taken for the lead's own auto-reply (a business
  account's away message, say): rules send nothing to it, so two robots never talk to each
  other. Taps on buttons are people, and always count.
- **A daily cap.** At most ``daily_cap`` automated messages reach one lead in 24 hours.
- **The outbox's own checks.** Every send goes through :mod:`ovenai.outbox.queue`, in this
  transaction: the 24-hour window for free text, opt-out for marketing, the messaging
  limits and pacing of the dispatcher. A lead who opted out, or whose message reads as an
  opt-out, gets nothing automated at all.

A rule whose trigger and conditions match *fires*: what it did, or why a guard or the
outbox stopped it, is logged in ``automation_firings`` (never the lead's words: the log is
not sealed). A rule whose conditions do not hold for the lead is not about that lead and
logs nothing (a rule on every message would otherwise log every message). A firing that
raises for a reason nobody foresaw is rolled back alone (a savepoint), logged as
``failed``, and never stops the message from being stored (the hook runs in
:mod:`ovenai.hooks`' own savepoint as well).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache, partial
from typing import NamedTuple, TypeVar, cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ovenai import (
    bulk_sql,
    dialects,
    document_checklist,
    hooks,
    notifications,
    places,
    property_files,
    templates,
)
from ovenai.automation import sequences
from ovenai.automation.definitions import (
    MESSAGE_TRIGGERS,
    AnswerViewing,
    AssignAgent,
    NotifyAgent,
    ProposeViewing,
    RuleDefinition,
    SendListingFile,
    SendTemplate,
    SendText,
    SequenceStep,
    SetStage,
    StartSequence,
    parse_definition,
)
from ovenai.columns import new_id, utcnow
from ovenai.errors import OvenAIError
from ovenai.events.content import InteractiveReplyContent, TemplateButtonContent
from ovenai.intents import Classification, Intent, classify_content, default_classifier, normalise
from ovenai.keystore import Vault
from ovenai.leads import LeadRecord, open_leads
from ovenai.metrics import AUTOMATION_FIRINGS
from ovenai.models import (
    AutomationFiring,
    AutomationRule,
    Direction,
    Language,
    Lead,
    Meeting,
    MeetingStatus,
    Message,
    Property,
    Stage,
    User,
)
from ovenai.outbox import queue, rules
from ovenai.quiet_hours import QuietHours
from ovenai.settings import Settings
from ovenai.transaction_cache import on_commit, per_transaction

log = logging.getLogger("ovenai.automation")

_CHUNK = 500  # ids per IN list
_FIRINGS = cast(Table, AutomationFiring.__table__)
_LEADS = cast(Table, Lead.__table__)

AUTO_ANSWER_S = 20.0
"""A typed message this soon after an automated one is taken for an automatic answer."""

PIPELINE = tuple(Stage)
"""The stages in order: ``set_stage`` moves only forward unless told ``backwards``."""


@dataclass(frozen=True)
class Setup:
    """What the rules need from the process: where templates live, the agency's zone, the
    key store that seals what they send, and the cap of automated messages a day."""

    waba_id: str
    zone: tzinfo
    vault: Vault
    daily_cap: int = 3
    documents: dict[str, str] = field(default_factory=dict)
    """What ``document_request_*`` asks for, by language (the settings')."""
    quiet: QuietHours | None = None
    """When marketing may not go (its sends wait in the outbox, showing until when)."""

    @classmethod
    def from_settings(cls, settings: Settings, vault: Vault) -> Setup:
        """The set-up of a process with these settings and this key store."""
        return cls(
            waba_id=settings.whatsapp_business_account_id or "",
            zone=settings.zone,
            vault=vault,
            daily_cap=settings.automation_daily_cap,
            documents={"he": settings.documents_he, "en": settings.documents_en},
            quiet=QuietHours.from_settings(settings),
        )


@dataclass(frozen=True)
class Event:
    """What happened, as the rules read it."""

    key: str
    """``message:<id>`` or ``lead:<id>``: one firing per rule, lead and event."""
    trigger: str
    at: datetime
    """When it happened: Meta's timestamp of a message, our clock for a new lead."""
    classification: Classification | None = None
    text: str = ""
    payload: str | None = None
    tapped: bool = False


@dataclass(frozen=True)
class LoadedRule:
    """A stored rule, checked."""

    id: str
    key: str
    definition: RuleDefinition


@dataclass
class Firing:
    """What one rule did for one lead and event, written to the log when it ends."""

    outcome: str = "done"
    did: list[str] = field(default_factory=list)
    message_id: str | None = None
    queued: int = 0
    """Messages it queued (the daily cap counts them)."""

    def skip(self, why: str) -> None:
        self.outcome = "skipped"
        self.did.append(why)

    @property
    def detail(self) -> str:
        return "; ".join(self.did) or "nothing to do"


async def enabled_rules(session: AsyncSession) -> list[LoadedRule]:
    """The enabled rules in run order (a rule that cannot be read any more,
    say after a downgrade, is left out and logged).

    Read once a transaction: the processor's transaction runs the rules for every message
    of its batch, and reading and parsing them again for each was a tenth of its time.
    """
    return await per_transaction(session, "automation.enabled_rules", _read_enabled_rules)


async def _read_enabled_rules(session: AsyncSession) -> list[LoadedRule]:
    query = (
        select(AutomationRule)
        .where(AutomationRule.enabled.is_(True))
        .order_by(AutomationRule.position, AutomationRule.key)
    )
    loaded: list[LoadedRule] = []
    for row in await session.scalars(query):
        try:
            definition = _parsed(row.definition)
        except OvenAIError as exc:
            log.warning("automation rule %s cannot be read: %s", row.key, exc.message)
            continue
        loaded.append(LoadedRule(row.id, row.key, definition))
    return loaded


@lru_cache(maxsize=256)
def _parsed(stored: str) -> RuleDefinition:
    """A stored definition checked, once per process for each text (a rule edited is another
    text); parsing every rule in every transaction was a fifth of a lone message's hooks."""
    return parse_definition(json.loads(stored))


async def on_inbound(session: AsyncSession, setup: Setup, stored: Sequence[hooks.Arrival]) -> None:
    """Run the rules that a run of inbound messages triggers, a message at a time in order
    (an answer first stops the lead's sequences: :mod:`.sequences`).

    What the rules need of every message (which are first contacts; when a rule that sends
    fires, the leads' automated messages) is read once for the run, and the firings are
    logged with one INSERT at its end.
    A firing is not isolated in a savepoint of its own unless :func:`ovenai.hooks.careful`
    says the run is being retried a message at a time: a rule that raises fails the hook
    for the whole run, which :mod:`ovenai.hooks` then calls for each message alone, where
    that rule's firing is rolled back and logged as failed, the others kept.
    """
    await sequences.stop_for_leads(
        session, {arrival.lead.id for arrival in stored}, sequences.ANSWERED
    )
    loaded = await enabled_rules(session)
    if not loaded:
        return
    firsts = await _first_contacts(session, stored)
    # No firing can name these messages yet: their rows were written in this transaction
    # (and a run tried again after a failure had its firings rolled back with it).
    run = _Run(
        lead_ids=frozenset(arrival.lead.id for arrival in stored),
        isolate=hooks.careful(session),
    )
    for arrival in stored:
        happened = await _arrived(session, arrival, first=arrival.message.id in firsts)
        await _run_triggered(session, setup, loaded, arrival.lead, happened, run=run)
    await run.write_stages(session)
    await _insert_firings(session, run.logged)


async def _arrived(session: AsyncSession, arrival: hooks.Arrival, *, first: bool) -> Event:
    """A message as the rules read it (a first message naming a town notes it on the lead)."""
    lead, message, event = arrival.lead, arrival.message, arrival.event
    classification = classify_content(event.content, default_classifier(), language=lead.language)
    payload = None
    if isinstance(event.content, TemplateButtonContent):
        payload = event.content.payload
    elif isinstance(event.content, InteractiveReplyContent):
        payload = event.content.reply_id
    if first:
        await _note_town(session, lead, event.text)
    return Event(
        key=f"message:{message.id}",
        trigger="first_message" if first else "message",
        at=message.created_at,
        classification=classification,
        text=event.text,
        payload=payload,
        tapped=payload is not None,
    )


async def on_lead_created(session: AsyncSession, setup: Setup, lead: Lead) -> None:
    """Run the rules that a new lead (API, or an import asked to greet) triggers."""
    happened = Event(key=f"lead:{lead.id}", trigger="lead_created", at=utcnow())
    await _run_triggered(session, setup, await enabled_rules(session), lead, happened)


async def on_stage_changed(session: AsyncSession, setup: Setup, lead: Lead, previous: str) -> None:
    """Run the rules that an agent's (or the API's) change of a lead's stage triggers (and
    stop the sequences the lead was enrolled in at another stage)."""
    await sequences.stop_for_leads(
        session, {lead.id}, sequences.STAGE_CHANGED, unless_stage=str(lead.stage)
    )
    happened = Event(key=f"stage:{lead.stage}:{new_id()}", trigger="stage_changed", at=utcnow())
    await _run_triggered(session, setup, await enabled_rules(session), lead, happened)


async def on_meeting_booked(session: AsyncSession, setup: Setup, meeting: Meeting) -> None:
    """Run the rules that a booked viewing (created, or confirmed later) triggers."""
    loaded = [
        rule
        for rule in await enabled_rules(session)
        if rule.definition.trigger.kind == "meeting_booked"
    ]
    lead = await session.get(Lead, meeting.lead_id) if loaded else None
    if lead is None:
        return
    happened = Event(key=f"meeting:{meeting.id}:booked", trigger="meeting_booked", at=utcnow())
    await _run_triggered(session, setup, loaded, lead, happened, meeting=meeting)


async def _run_triggered(
    session: AsyncSession,
    setup: Setup,
    loaded: Sequence[LoadedRule],
    lead: Lead,
    happened: Event,
    *,
    meeting: Meeting | None = None,
    run: _Run | None = None,
) -> None:
    """Run each of the rules whose trigger the event matches, in their order."""
    for rule in loaded:
        if _triggered(rule.definition, lead, happened):
            await run_rule(session, setup, rule, lead, happened, meeting=meeting, run=run)


@dataclass
class _Sent:
    """A lead's automated messages, as the guards read them."""

    last_sent_at: datetime | None = None
    """When Meta accepted the newest one."""
    today: int = 0
    """How many were queued in the last 24 hours."""


@dataclass
class _Run:
    """What the rules share over a run of inbound messages."""

    lead_ids: frozenset[str]
    isolate: bool
    """A savepoint for each firing (the run is being retried a message at a time)."""
    logged: list[_Logged] = field(default_factory=list)
    """The firings' rows, inserted together at the end of the run."""
    tallies: dict[str, _Sent] | None = None
    """The run's leads' automated messages: read for all of them when a rule that sends
    first fires, then counted here as the run's rules queue more."""

    stages: dict[str, str] = field(default_factory=dict)
    """The stages the run's rules moved its leads to, written together at its end."""

    async def sent(self, session: AsyncSession, lead_id: str) -> _Sent:
        if self.tallies is None:
            self.tallies = await _automated(session, self.lead_ids)
        return self.tallies.setdefault(lead_id, _Sent())

    def move(self, lead: Lead, stage: str) -> bool:
        """Move the lead to ``stage`` for :meth:`write_stages` to write (an attribute set
        through the ORM is a flush of its own, an executemany, for every lead of the run):
        only a run not isolated, where a rule that raises rolls back the hooks' savepoint
        and the run is read afresh (``hooks.reload``) before it is tried again."""
        if self.isolate:
            return False
        set_committed_value(lead, "stage", stage)
        self.stages[lead.id] = stage
        return True

    async def write_stages(self, session: AsyncSession) -> None:
        now = utcnow()
        rows = [
            {"id": lead_id, "stage": stage, "updated_at": now}
            for lead_id, stage in sorted(self.stages.items())
        ]
        await bulk_sql.update_many(session, _LEADS, rows)
        self.stages.clear()


async def run_rule(
    session: AsyncSession,
    setup: Setup,
    rule: LoadedRule,
    lead: Lead,
    happened: Event,
    *,
    meeting: Meeting | None = None,
    run: _Run | None = None,
) -> Firing | None:
    """Run one rule whose trigger matched: its firing, or None when it did not fire (seen
    before, or its conditions do not hold for the lead)."""
    # A run's events are messages stored in this transaction: none was seen before.
    if run is None and await _fired(session, rule, lead, happened):
        return None  # this event was seen before (the guard's unique index says so too)
    if not _conditions_hold(rule.definition, lead):
        return None  # not a firing: nothing is logged for a lead the rule is not about
    return await _guarded(
        session,
        rule,
        lead,
        happened,
        lambda firing: _act(session, setup, rule, lead, happened, firing, meeting, run),
        run=run,
    )


async def _guarded(
    session: AsyncSession,
    rule: LoadedRule,
    lead: Lead,
    happened: Event,
    work: Callable[[Firing], Awaitable[None]],
    *,
    run: _Run | None = None,
) -> Firing:
    """Do a firing's work in a savepoint and log it; a bug fails the firing (logged on the
    rule and in the worker's log), never the event being applied. In a ``run`` not isolated,
    the work has no savepoint of its own: a bug fails the run (see :func:`on_inbound`)."""
    firing = Firing()
    if run is not None and not run.isolate:
        await work(firing)
    else:
        savepoint = await session.begin_nested()
        try:
            await work(firing)
        except Exception:  # a bug: logged on the rule, never lost silently
            await savepoint.rollback()
            log.exception("automation rule %s failed for lead %s", rule.key, lead.id)
            firing = Firing(outcome="failed", did=["failed: see the worker's log"])
        else:
            await savepoint.commit()
    logged = _logged(rule, lead, happened, firing)
    if run is None:
        await _insert_firings(session, [logged])
    else:
        run.logged.append(logged)
        if firing.queued:
            (await run.sent(session, lead.id)).today += firing.queued
    return firing


async def _fired(session: AsyncSession, rule: LoadedRule, lead: Lead, happened: Event) -> bool:
    found = await session.scalar(
        select(AutomationFiring.id).where(
            AutomationFiring.rule_id == rule.id,
            AutomationFiring.lead_id == lead.id,
            AutomationFiring.event == happened.key[:80],
        )
    )
    return found is not None


def _triggered(definition: RuleDefinition, lead: Lead, happened: Event) -> bool:
    """Whether the rule's trigger matches the event."""
    trigger = definition.trigger
    if trigger.kind not in MESSAGE_TRIGGERS or happened.trigger not in MESSAGE_TRIGGERS:
        return trigger.kind == happened.trigger and (
            not trigger.sources or lead.source in trigger.sources
        )
    if trigger.kind == "first_message" and happened.trigger != "first_message":
        return False
    if trigger.kind == "button" and not happened.tapped:
        return False
    intent = happened.classification.intent if happened.classification else None
    if trigger.intents and intent not in trigger.intents:
        return False
    if trigger.payloads and not _payload_matches(trigger.payloads, happened.payload):
        return False
    if trigger.keywords:
        spelled = normalise(happened.text)
        return any(word in spelled for word in trigger.keywords_normalised())
    return True


def _payload_matches(wanted: list[str], payload: str | None) -> bool:
    if payload is None:
        return False
    head = payload.strip().casefold().split(":")[0]
    return any(head == item.strip().casefold() for item in wanted)


def _conditions_hold(definition: RuleDefinition, lead: Lead) -> bool:
    """Whether the lead meets every condition the rule gives."""
    given = definition.conditions
    score = lead.engagement_score
    return all(
        (
            not given.stages or lead.stage in given.stages,
            not given.languages or lead.language in given.languages,
            not given.sources or lead.source in given.sources,
            given.min_score is None or score >= given.min_score,
            given.max_score is None or score <= given.max_score,
            given.assigned is None or (lead.assigned_agent_id is not None) == given.assigned,
            not given.agents or lead.assigned_agent_id in given.agents,
            given.has_property is None or (lead.property_id is not None) == given.has_property,
        )
    )


async def _act(
    session: AsyncSession,
    setup: Setup,
    rule: LoadedRule,
    lead: Lead,
    happened: Event,
    firing: Firing,
    meeting: Meeting | None,
    run: _Run | None = None,
) -> None:
    if rule.definition.sends:
        why_not = await _why_not_send(session, setup, lead, happened, run)
        if why_not:
            firing.skip(why_not)
            return
    for action in rule.definition.actions:
        if isinstance(action, SendTemplate | SendText):
            sent = await _send(session, setup, rule, lead, happened, action, firing, meeting)
            if not sent:
                return
        elif isinstance(action, SendListingFile):
            if not await _send_listing_file(session, setup, rule, lead, happened, action, firing):
                return
        elif isinstance(action, ProposeViewing):
            if not await _propose(session, setup, rule, lead, happened, action, firing, meeting):
                return
        elif isinstance(action, SetStage):
            _set_stage(lead, action, firing, run)
        elif isinstance(action, AssignAgent):
            await _assign(session, lead, action, firing)
        elif isinstance(action, AnswerViewing):
            await _answer_viewing(session, setup, lead, happened, firing)
        elif isinstance(action, NotifyAgent):
            texts: dict[str, str] = {str(k): v for k, v in action.text.items()}
            told = await notifications.notify_lead_agent(
                session, lead=lead, texts=texts, rule_id=rule.id
            )
            firing.did.append(f"notified {', '.join(told)}" if told else "nobody to notify")
        elif isinstance(action, StartSequence):
            await _enrol(session, setup, rule, lead, happened, action, firing)


async def _enrol(
    session: AsyncSession,
    setup: Setup,
    rule: LoadedRule,
    lead: Lead,
    happened: Event,
    action: StartSequence,
    firing: Firing,
) -> None:
    """Start the sequence for the lead (not for one who opted out)."""
    if lead.opted_out_at is not None:
        firing.skip("not enrolled in the sequence: the lead opted out")
        return
    row = await sequences.enrol(
        session, rule_id=rule.id, lead=lead, event=happened.key, action=action
    )
    if row is None:
        firing.did.append("already in this sequence")
        return
    first = row.due_at.astimezone(setup.zone) if row.due_at else None
    when = f", the first step due {first:%d/%m %H:%M}" if first else ""
    firing.did.append(f"enrolled in the sequence of {len(action.steps)} steps{when}")


async def run_sequence_step(
    session: AsyncSession,
    setup: Setup,
    rule: LoadedRule,
    lead: Lead,
    happened: Event,
    step: SequenceStep,
) -> Firing | None:
    """Run one due step of a sequence for the lead: free text while the window is open,
    the step's template once it has closed; under the guards of every send, logged as a
    firing of the rule. None when this step's event was seen before."""
    if await _fired(session, rule, lead, happened):
        return None
    return await _guarded(
        session,
        rule,
        lead,
        happened,
        lambda firing: _step(session, setup, rule, lead, happened, step, firing),
    )


async def _step(
    session: AsyncSession,
    setup: Setup,
    rule: LoadedRule,
    lead: Lead,
    happened: Event,
    step: SequenceStep,
    firing: Firing,
) -> None:
    why_not = await _why_not_send(session, setup, lead, happened)
    if why_not:
        firing.skip(why_not)
        return
    if rules.window_open(lead.last_inbound_at, utcnow()):
        if step.text is not None:
            await _send(
                session,
                setup,
                rule,
                lead,
                happened,
                SendText(type="send_text", text=step.text),
                firing,
                None,
            )
            return
        firing.did.append("the window is open but the step has no text: its template")
    if step.family is None:
        firing.skip("the window is closed and the step has no template")
        return
    action = SendTemplate(type="send_template", family=step.family)
    await _send(session, setup, rule, lead, happened, action, firing, None)


async def _why_not_send(
    session: AsyncSession,
    setup: Setup,
    lead: Lead,
    happened: Event,
    run: _Run | None = None,
) -> str | None:
    """Why nothing automated may go to this lead now; None when it may."""
    if lead.opted_out_at is not None:
        return "the lead opted out"
    if happened.classification and happened.classification.intent is Intent.OPT_OUT:
        return "the message reads as an opt-out"
    if run is not None:
        sent = await run.sent(session, lead.id)
    else:
        sent = (await _automated(session, {lead.id})).get(lead.id, _Sent())
    last = sent.last_sent_at
    if happened.trigger in MESSAGE_TRIGGERS and not happened.tapped and last is not None:
        # Meta's timestamps are whole seconds: a reply in the second we sent is "0 s after".
        if -1 <= (happened.at - last).total_seconds() < AUTO_ANSWER_S:
            return "the message came within seconds of an automated one: an automatic answer"
    if sent.today >= setup.daily_cap:
        return f"the daily cap of {setup.daily_cap} automated messages for this lead is reached"
    return None


async def _automated(session: AsyncSession, lead_ids: Collection[str]) -> dict[str, _Sent]:
    """The leads' automated messages: when Meta accepted the newest, and how many were
    queued in the last 24 hours (two queries per 500 leads; a lead with none is left out)."""
    since = utcnow() - timedelta(hours=24)
    ordered = sorted(lead_ids)
    tallies: dict[str, _Sent] = {}
    for start in range(0, len(ordered), _CHUNK):
        chunk = dialects.one_of(session, Message.lead_id, ordered[start : start + _CHUNK])
        automated = Message.rule_id.is_not(None)
        newest = (
            select(Message.lead_id, func.max(Message.sent_at))
            .where(chunk, automated, Message.direction == Direction.OUTBOUND)
            .group_by(Message.lead_id)
        )
        for lead_id, at in await session.execute(newest):
            tallies.setdefault(lead_id, _Sent()).last_sent_at = at
        recent = (
            select(Message.lead_id, func.count())
            .where(chunk, automated, Message.created_at >= since)
            .group_by(Message.lead_id)
        )
        for lead_id, count in await session.execute(recent):
            tallies.setdefault(lead_id, _Sent()).today = int(count)
    return tallies


async def _send(
    session: AsyncSession,
    setup: Setup,
    rule: LoadedRule,
    lead: Lead,
    happened: Event,
    action: SendTemplate | SendText,
    firing: Firing,
    meeting: Meeting | None,
) -> bool:
    """Queue the send in this transaction; False (and the reason logged) when it cannot go."""
    (record,) = await open_leads(setup.vault, [lead])
    key = f"auto:{rule.id}:{happened.key}"[:128]
    try:
        if isinstance(action, SendText):
            message = await _send_text(session, setup, record, action.text, key, firing)
        else:
            try:
                prepared = await _prepared(session, setup, record, action.family, meeting)
            except OvenAIError as exc:
                if action.otherwise_text is None or not rules.window_open(
                    lead.last_inbound_at, utcnow()
                ):
                    raise
                firing.did.append(f"template {action.family} not sendable ({exc.message})")
                message = await _send_text(
                    session, setup, record, action.otherwise_text, key, firing
                )
            else:
                message = await queue.enqueue_template(
                    session,
                    setup.vault,
                    lead=record,
                    prepared=prepared,
                    idempotency_key=key,
                    quiet=setup.quiet,
                )
                firing.did.append(f"queued template {prepared.name} ({prepared.language})")
                if templates.family_of(prepared.name) == document_checklist.FAMILY:
                    await session.flush()
                    asked = document_checklist.items(setup.documents.get(prepared.language, ""))
                    await document_checklist.record_asked(
                        session,
                        lead_id=lead.id,
                        names=asked,
                        language=prepared.language,
                        message_id=message.id,
                    )
    except OvenAIError as exc:
        firing.skip(f"not sent: {exc.message}")
        return False
    await _queued(session, rule, message, firing)
    return True


async def _queued(
    session: AsyncSession, rule: LoadedRule, message: Message, firing: Firing
) -> None:
    """Mark a message this rule queued as automated, and log it on the firing."""
    message.rule_id = rule.id
    await session.flush()
    firing.message_id = message.id
    firing.queued += 1


async def _send_text(
    session: AsyncSession,
    setup: Setup,
    lead: LeadRecord,
    texts: dict[Language, str],
    key: str,
    firing: Firing,
) -> Message:
    language = Language(_language(lead.language))
    text = texts.get(language)
    if text is None:
        first = next(iter(texts))
        text = texts[first]
        firing.did.append(f"no text in {lead.language}: the {first} one")
    message = await queue.enqueue_text(
        session, setup.vault, lead=lead, text=text, idempotency_key=key
    )
    firing.did.append("queued free text")
    return message


async def _send_listing_file(
    session: AsyncSession,
    setup: Setup,
    rule: LoadedRule,
    lead: Lead,
    happened: Event,
    action: SendListingFile,
    firing: Firing,
) -> bool:
    """Queue the lead's listing's brochure or first photo; False (logged) when it cannot go."""
    kind = "image" if action.role == "photo" else "document"
    found = await property_files.header_file(
        session, kind, file_id=None, property_id=lead.property_id
    )
    if found is None:
        whose = "the lead has no listing" if lead.property_id is None else "its listing has none"
        firing.skip(f"no {action.role} to send: {whose}")
        return False
    caption = _in_language(action.caption, lead) if action.caption else None
    (record,) = await open_leads(setup.vault, [lead])
    key = f"auto:{rule.id}:{happened.key}:file"[:128]  # beside a text the same rule sends
    try:
        message = await queue.enqueue_file(
            session, setup.vault, lead=record, file_id=found, caption=caption, idempotency_key=key
        )
    except OvenAIError as exc:
        firing.skip(f"not sent: {exc.message}")
        return False
    await _queued(session, rule, message, firing)
    firing.did.append(f"queued the listing's {action.role}")
    return True


_T = TypeVar("_T")
VIEWING_BUTTONS = ("viewing_confirm", "viewing_reschedule", "viewing_cancel")


async def _propose(
    session: AsyncSession,
    setup: Setup,
    rule: LoadedRule,
    lead: Lead,
    happened: Event,
    action: ProposeViewing,
    firing: Firing,
    meeting: Meeting | None,
) -> bool:
    """Ask the lead to confirm the event's proposed viewing with three reply buttons."""
    if meeting is None or meeting.status != MeetingStatus.PROPOSED:
        firing.did.append("no proposed viewing to ask about")
        return True
    pattern = _in_language(action.text, lead)
    titles = _in_language(action.buttons, lead)
    starts = meeting.starts_at.astimezone(setup.zone)
    text = pattern.format(day=starts.strftime("%d/%m"), time=starts.strftime("%H:%M"))
    pairs = zip(VIEWING_BUTTONS, titles, strict=True)
    buttons = [(f"{head}:{meeting.id}", title) for head, title in pairs]
    (record,) = await open_leads(setup.vault, [lead])
    key = f"auto:{rule.id}:{happened.key}"[:128]
    window_open = rules.window_open(record.last_inbound_at, utcnow())
    family = None if window_open else action.family  # outside the window: its template
    try:
        if family is not None:
            prepared = await _prepared(session, setup, record, family, meeting)
            message = await queue.enqueue_template(
                session,
                setup.vault,
                lead=record,
                prepared=prepared,
                idempotency_key=key,
                quick_replies=[payload for payload, _ in buttons],
            )
        else:
            message = await queue.enqueue_buttons(
                session, setup.vault, lead=record, text=text, buttons=buttons, idempotency_key=key
            )
    except OvenAIError as exc:
        firing.skip(f"not sent: {exc.message}")
        return False
    await _queued(session, rule, message, firing)
    way = f"template {message.template_name}" if family is not None else "buttons"
    firing.did.append(f"asked to confirm the viewing of {starts:%d/%m %H:%M} with {way}")
    return True


def _in_language(values: Mapping[Language, _T], lead: Lead) -> _T:
    """A rule's value in the lead's language, else its first one."""
    return values.get(Language(_language(lead.language))) or next(iter(values.values()))


def _language(lead_language: str | None) -> str:
    return rules.template_language(None, lead_language)


async def _prepared(
    session: AsyncSession,
    setup: Setup,
    lead: LeadRecord,
    family: str,
    meeting: Meeting | None,
) -> templates.PreparedTemplate:
    """The family's version in the lead's language, filled from the lead (and the meeting
    the event is about, else their next one); TemplateNotFound when the family has none in
    that language (no other language is sent instead)."""
    values = await queue.default_values(
        session, lead=lead, family=family, zone=setup.zone, meeting=meeting
    )
    language = _language(lead.language)
    asked = document_checklist.items(setup.documents.get(language, ""))
    values["documents"] = document_checklist.sentence(asked, language) if asked else None
    params = templates.fill_params(templates.family_of(family), **values)
    prepared = await templates.prepare_send(
        session,
        waba_id=setup.waba_id,
        template=family,
        language=_language(lead.language),
        params=params,
        fallback=False,
    )
    return await queue.with_header_file(session, prepared, property_id=lead.property_id)


def _set_stage(lead: Lead, action: SetStage, firing: Firing, run: _Run | None) -> None:
    if lead.stage == action.stage:
        firing.did.append(f"stage already {action.stage}")
        return
    current = PIPELINE.index(Stage(lead.stage)) if lead.stage in PIPELINE else -1
    if PIPELINE.index(action.stage) < current and not action.backwards:
        firing.did.append(f"stage kept at {lead.stage} (not moved back to {action.stage})")
        return
    firing.did.append(f"stage {lead.stage} → {action.stage}")
    if run is None or not run.move(lead, action.stage):
        lead.stage = action.stage
        lead.updated_at = utcnow()


async def _assign(session: AsyncSession, lead: Lead, action: AssignAgent, firing: Firing) -> None:
    if lead.assigned_agent_id is not None and not action.replace:
        firing.did.append("agent kept (the lead has one)")
        return
    agent = await session.get(User, action.agent_id)
    if agent is None or not agent.is_active:
        firing.did.append(f"not assigned: {action.agent_id} is not an active user")
        return
    lead.assigned_agent_id = agent.id
    lead.updated_at = utcnow()
    firing.did.append(f"assigned to {agent.email}")


VIEWING_TAPS = {
    "viewing_confirm": MeetingStatus.CONFIRMED,
    "viewing_cancel": MeetingStatus.CANCELLED,
    "viewing_reschedule": None,
}


async def _answer_viewing(
    session: AsyncSession, setup: Setup, lead: Lead, happened: Event, firing: Firing
) -> None:
    """A tap on a viewing's button: confirm or cancel the viewing it names (or the lead's
    next one); another time: leave it for the agent."""
    head, _, ref = (happened.payload or "").strip().casefold().partition(":")
    if head not in VIEWING_TAPS:
        firing.did.append("not a viewing's button")
        return
    query = select(Meeting).where(
        Meeting.lead_id == lead.id,
        Meeting.status.in_([MeetingStatus.PROPOSED, MeetingStatus.CONFIRMED]),
    )
    if ref.strip():
        query = query.where(Meeting.id == ref.strip())
    else:
        query = query.where(Meeting.starts_at >= utcnow()).order_by(Meeting.starts_at).limit(1)
    meeting = await session.scalar(query.with_for_update())
    if meeting is None:
        firing.skip("no upcoming viewing of this lead matches the button")
        return
    when = meeting.starts_at.astimezone(setup.zone).strftime("%d/%m %H:%M")
    status = VIEWING_TAPS[head]
    if status is None:
        firing.did.append(f"the lead asks for another time than the viewing of {when}")
        return
    if meeting.status == status:
        firing.did.append(f"the viewing of {when} was already {status}")
        return
    meeting.status = status
    meeting.updated_at = utcnow()
    firing.did.append(f"viewing of {when} {status} by the lead")
    if status == MeetingStatus.CONFIRMED:
        await session.flush()
        await hooks.run_after_meeting_booked(session, meeting)


async def _first_contacts(session: AsyncSession, stored: Sequence[hooks.Arrival]) -> set[str]:
    """The messages of the run that are the first between us and their lead, either way (a
    stranger writing in; not a lead we greeted, who answers): a lead's first message in the
    run, when the lead has no message but the run's.

    Whether a lead has another message is asked with EXISTS, which stops at the first one
    found: a long-standing lead's history is not counted at every message it sends."""
    ours: dict[str, list[str]] = {}
    for arrival in stored:
        ours.setdefault(arrival.lead.id, []).append(arrival.message.id)
    ordered = sorted(ours)
    known: set[str] = set()
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        others = select(Message.id).where(
            Message.lead_id == Lead.id,
            dialects.none_of(
                session, Message.id, [message for lead_id in chunk for message in ours[lead_id]]
            ),
        )
        query = select(Lead.id).where(dialects.one_of(session, Lead.id, chunk), others.exists())
        known.update(await session.scalars(query))
    return {messages[0] for lead_id, messages in ours.items() if lead_id not in known}


async def _note_town(session: AsyncSession, lead: Lead, text: str) -> None:
    """A first message that names a town sets the lead's wanted town (if it has none)."""
    if lead.want_city or lead.property_id or not text:
        return
    listed = await per_transaction(session, "automation.listed_towns", _listed_towns)
    town = places.find_town(text, listed)
    if town is not None:
        lead.want_city = town.name_in(lead.language)


async def _listed_towns(session: AsyncSession) -> list[str]:
    """The towns and areas of the agency's listings (read once a transaction)."""
    rows = (await session.execute(select(Property.city, Property.area).distinct())).all()
    return places.towns_of((row[0], row[1]) for row in rows)


async def log_firing(
    session: AsyncSession, rule: LoadedRule, lead: Lead, happened: Event, firing: Firing
) -> None:
    """Log what a rule did (or why it did not) for a lead and event (once: a firing logged
    before for them is kept)."""
    await _insert_firings(session, [_logged(rule, lead, happened, firing)])


class _Logged(NamedTuple):
    """A firing's row, and the rule it is counted under once the row is in."""

    rule_key: str
    row: dict[str, object]


def _logged(rule: LoadedRule, lead: Lead, happened: Event, firing: Firing) -> _Logged:
    return _Logged(
        rule.key[:64],
        {
            "id": new_id(),
            "rule_id": rule.id,
            "lead_id": lead.id,
            "event": happened.key[:80],
            "outcome": firing.outcome,
            "detail": firing.detail[:2000],
            "message_id": firing.message_id,
            "at": utcnow(),
        },
    )


async def _insert_firings(session: AsyncSession, logged: Sequence[_Logged]) -> None:
    if logged:
        rows = [item.row for item in logged]
        await bulk_sql.insert_many(session, _FIRINGS, rows, skip_taken=True)
        # Counted once the rows are in: a run tried again after a failed hook writes them anew.
        counted = Counter((item.rule_key, str(item.row["outcome"])) for item in logged)
        on_commit(session, partial(_count_firings, counted))


def _count_firings(counted: Counter[tuple[str, str]]) -> None:
    for (rule, outcome), times in counted.items():
        AUTOMATION_FIRINGS.labels(rule=rule, outcome=outcome).inc(times)
