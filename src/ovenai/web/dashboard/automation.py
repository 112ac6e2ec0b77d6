"""Dashboard: the admins' automation page (/admin/automation: the rules in run order, each
described in words with its counts and an on/off button, and the latest firings of all of
them) and a rule's own page (/admin/automation/{rule}: its definition edited as JSON, and
its log, a page at a time). Agents get the 404 of a page that does not exist."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ovenai import accounts, automation
from ovenai.auth import Actor
from ovenai.automation import sequences
from ovenai.automation.definitions import (
    Action,
    AnswerViewing,
    AssignAgent,
    Conditions,
    NotifyAgent,
    ProposeViewing,
    RuleDefinition,
    SendListingFile,
    SendTemplate,
    SendText,
    SequenceStep,
    SetStage,
    StartSequence,
    Trigger,
)
from ovenai.errors import InvalidInput, NotFound
from ovenai.web import i18n
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.session import SessionActor, check_csrf
from ovenai.web.deps import DbDep
from ovenai.web.i18n import N_, Translator

router = APIRouter(include_in_schema=False)
LATEST = 20  # the list page shows this many firings of all rules
LOG_PAGE = 50  # a rule's page shows its log this many firings at a time
MAX_DEFINITION = 200_000  # characters of JSON: ten actions of 4,096 characters per language
CsrfField = Annotated[str | None, Form()]
CursorParam = Annotated[str | None, Query(max_length=100)]
_NOT_VALID = "the rule is not valid: "  # how parse_definition begins its refusal

# What a trigger is, in words (by its kind).
TRIGGERS = {
    "first_message": N_("First message from a new lead"),
    "message": N_("Any message from a lead"),
    "button": N_("A tap on a button or a list row"),
    "lead_created": N_("A new lead from the API (or an import asked to greet)"),
    "meeting_booked": N_("A viewing is booked"),
    "meeting_day_before": N_("The day before a viewing"),
    "meeting_passed": N_("After a viewing"),
    "stage_changed": N_("An agent or the API changes the lead's stage"),
    "no_reply": N_("The lead has not answered our message"),
}
# Why a sequence stopped (by sequences' reasons).
STOPPED = {
    sequences.ANSWERED: N_("the lead answered"),
    sequences.OPTED_OUT: N_("the lead opted out"),
    sequences.STAGE_CHANGED: N_("the stage changed"),
    sequences.FINISHED: N_("all steps done"),
    sequences.ERASED: N_("the lead was erased"),
    sequences.RULE_OFF: N_("the rule was turned off or changed"),
}
ENROLMENTS = 50  # the pages show this many enrolments
INTENTS = {
    "wants_viewing": N_("wants a viewing"),
    "asks_price": N_("asks the price or details"),
    "not_interested": N_("not interested"),
    "wants_call": N_("wants a call"),
    "opt_out": N_("asks to stop the messages"),
    "other": N_("other (none of the above)"),
}
SOURCES = {
    "web_form": N_("web form"),
    "portal": N_("property portal"),
    "ad_referral": N_("ad"),
    "whatsapp": N_("WhatsApp"),
    "import": N_("import"),
    "manual": N_("added by hand"),
}


@dataclass(frozen=True)
class Phrase:
    """One line of a rule in words: translated text, then data shown as it is (a template's
    family, keywords, an agent's e-mail) in its own direction."""

    text: str
    data: tuple[str, ...] = ()
    direction: str = "ltr"


@dataclass(frozen=True)
class Described:
    """A rule as its page shows it: the record, and its parts in words."""

    rule: automation.RuleRecord
    trigger: list[Phrase]
    conditions: list[Phrase]
    actions: list[Phrase]


def describe(rule: automation.RuleRecord, words: Translator, agents: dict[str, str]) -> Described:
    """A rule in the page's language; ``agents`` gives the e-mail of each agent id."""
    definition = rule.definition
    if definition is None:  # stored by an older version, or edited by hand: it does not run
        invalid = Phrase(
            words.gettext("This rule is not valid and does not run:"), (rule.invalid or "",)
        )
        return Described(rule=rule, trigger=[invalid], conditions=[], actions=[])
    return Described(
        rule=rule,
        trigger=_trigger(definition.trigger, words),
        conditions=_conditions(definition.conditions, words, agents),
        actions=[_action(action, words, agents) for action in definition.actions],
    )


def _listed(words: Translator, table: dict[str, str], values: Iterable[str]) -> str:
    return ", ".join(words.gettext(table[value]) if value in table else value for value in values)


def _labels(words: Translator, kind: str, values: Iterable[str]) -> str:
    return ", ".join(words.label(kind, value) for value in values)


def _trigger(trigger: Trigger, words: Translator) -> list[Phrase]:
    kind = TRIGGERS.get(trigger.kind)  # a kind newer than this page: shown as it is stored
    said = [
        Phrase(words.gettext(kind)) if kind else Phrase(words.gettext("Trigger"), (trigger.kind,))
    ]
    if trigger.intents:
        intents = _listed(words, INTENTS, trigger.intents)
        said.append(Phrase(words.gettext("Intent: %(intents)s", intents=intents)))
    if trigger.keywords:
        said.append(Phrase(words.gettext("Words in the message:"), tuple(trigger.keywords), "auto"))
    if trigger.payloads:
        said.append(Phrase(words.gettext("Button ids:"), tuple(trigger.payloads)))
    if trigger.sources:
        sources = _listed(words, SOURCES, trigger.sources)
        said.append(Phrase(words.gettext("Source: %(sources)s", sources=sources)))
    if trigger.kind == "meeting_day_before":
        said.append(Phrase(words.gettext("From %(hour)02d:00", hour=trigger.hour)))
    if trigger.kind == "no_reply":
        days = f"{trigger.days:g}"
        said.append(Phrase(words.gettext("for %(days)s days", days=days)))
    if trigger.kind == "meeting_passed":
        hours = f"{trigger.hours_after:g}"
        said.append(Phrase(words.gettext("%(hours)s hours after it ended", hours=hours)))
    return said


def _conditions(conditions: Conditions, words: Translator, agents: dict[str, str]) -> list[Phrase]:
    said: list[Phrase] = []
    if conditions.stages:
        stages = _labels(words, "stage", conditions.stages)
        said.append(Phrase(words.gettext("Stage: %(stages)s", stages=stages)))
    if conditions.languages:
        languages = _labels(words, "language", conditions.languages)
        said.append(Phrase(words.gettext("Language: %(languages)s", languages=languages)))
    if conditions.sources:
        sources = _listed(words, SOURCES, conditions.sources)
        said.append(Phrase(words.gettext("Source: %(sources)s", sources=sources)))
    if conditions.min_score is not None:
        score = conditions.min_score
        said.append(Phrase(words.gettext("Engagement score at least %(score)d", score=score)))
    if conditions.max_score is not None:
        score = conditions.max_score
        said.append(Phrase(words.gettext("Engagement score at most %(score)d", score=score)))
    if conditions.assigned is not None:
        said.append(
            Phrase(
                words.gettext("Only leads with an agent")
                if conditions.assigned
                else words.gettext("Only leads without an agent")
            )
        )
    if conditions.agents:
        emails = tuple(agents.get(agent, agent) for agent in conditions.agents)
        said.append(Phrase(words.gettext("Leads of the agents:"), emails))
    if conditions.has_property is not None:
        said.append(
            Phrase(
                words.gettext("Only leads with a property")
                if conditions.has_property
                else words.gettext("Only leads without a property")
            )
        )
    return said or [Phrase(words.gettext("Every lead"))]


def _action(action: Action, words: Translator, agents: dict[str, str]) -> Phrase:
    if isinstance(action, SendTemplate):
        if action.otherwise_text:
            text = words.gettext(
                "Send the template (or, when it cannot go and the 24-hour window is open,"
                " a text instead):"
            )
            return Phrase(text, (action.family,))
        return Phrase(words.gettext("Send template"), (action.family,))
    if isinstance(action, SendText):
        text = action.text.get(words.language) or next(iter(action.text.values()), "")
        return Phrase(
            words.gettext("Send a text while the 24-hour window is open:"), (text,), "auto"
        )
    if isinstance(action, SendListingFile):
        what = (
            words.gettext("Send the listing's brochure while the 24-hour window is open")
            if action.role == "brochure"
            else words.gettext("Send the listing's first photo while the 24-hour window is open")
        )
        return Phrase(what)
    if isinstance(action, SetStage):
        stage = words.label("stage", action.stage)
        if action.backwards:
            return Phrase(words.gettext("Move to stage: %(stage)s, even backwards", stage=stage))
        return Phrase(words.gettext("Move to stage: %(stage)s", stage=stage))
    if isinstance(action, AnswerViewing):
        return Phrase(words.gettext("Confirm or cancel the viewing the button names"))
    if isinstance(action, ProposeViewing):
        pattern = action.text.get(words.language) or next(iter(action.text.values()), "")
        example = pattern.format(day="08/12", time="18:30")  # as a lead reads it
        return Phrase(
            words.gettext("Ask to confirm the viewing with buttons (window open):"),
            (example,),
            "auto",
        )
    if isinstance(action, NotifyAgent):
        text = action.text.get(words.language) or next(iter(action.text.values()), "")
        return Phrase(
            words.gettext("Notify the agent (the admins when the lead has none):"), (text,), "auto"
        )
    if isinstance(action, StartSequence):
        days = tuple(f"{step.after_days:g}" for step in action.steps)
        return Phrase(words.gettext("Start a follow-up sequence, steps on days:"), days)
    email = agents.get(action.agent_id, action.agent_id)
    if action.replace:
        return Phrase(words.gettext("Assign to the agent, replacing the current one:"), (email,))
    return Phrase(words.gettext("Assign to the agent, if the lead has none:"), (email,))


def _names_agents(definitions: Iterable[RuleDefinition | None]) -> bool:
    return any(
        d.conditions.agents or any(isinstance(a, AssignAgent) for a in d.actions)
        for d in definitions
        if d is not None
    )


@dataclass(frozen=True)
class StepShown:
    """A sequence's step on its rule's page: when, the text (window open), the template."""

    after_days: str
    text: str | None
    family: str | None


def steps_of(rule: automation.RuleRecord, language: str) -> list[StepShown]:
    """The steps of the rule's sequence, if it has one."""
    sequence = sequences.sequence_of(rule.definition) if rule.definition else None
    return [_step(step, language) for step in sequence.steps] if sequence else []


def _step(step: SequenceStep, language: str) -> StepShown:
    text = None
    if step.text:
        text = step.text.get(language) or next(iter(step.text.values()))  # type: ignore[call-overload]
    return StepShown(f"{step.after_days:g}", text, step.family)


def stopped_reasons(words: Translator) -> dict[str, str]:
    """Why a sequence stopped, in words (templates look the reasons up)."""
    return {key: words.gettext(value) for key, value in STOPPED.items()}


async def _described(
    request: Request, db: DbDep, actor: Actor, rules: Sequence[automation.RuleRecord]
) -> list[Described]:
    agents: dict[str, str] = {}
    if _names_agents(rule.definition for rule in rules):  # ids are shown as e-mails
        agents = {found.id: found.email for found in await accounts.list_accounts(db, actor=actor)}
    words = i18n.translator(request)
    return [describe(rule, words, agents) for rule in rules]


def _admin_only(actor: Actor) -> None:
    if not actor.is_admin:  # the pages' existence is not revealed to agents
        raise NotFound("no such page")


@router.get("/admin/automation")
async def rules_page(request: Request, db: DbDep, actor: SessionActor) -> HTMLResponse:
    """Every rule in run order, in words, each with "turn off/on"; then the latest firings."""
    _admin_only(actor)
    rules = await automation.list_rules(db, actor=actor)
    latest = await automation.list_firings(
        db, actor=actor, query=automation.FiringQuery(limit=LATEST)
    )
    return page(
        request,
        "admin_automation.html",
        actor=actor,
        rules=await _described(request, db, actor, rules),
        firings=latest.items,
        enrolments=await sequences.list_enrolments(db, limit=ENROLMENTS),
        stopped=stopped_reasons(i18n.translator(request)),
    )


@router.get("/admin/automation/{rule}")
async def rule_page(
    request: Request, rule: str, db: DbDep, actor: SessionActor, cursor: CursorParam = None
) -> HTMLResponse:
    """One rule: its description, its definition to edit, and its log (newest first)."""
    _admin_only(actor)
    return await _rule_page(request, db, actor, rule, cursor=cursor)


async def _rule_page(
    request: Request,
    db: DbDep,
    actor: Actor,
    rule: str,
    *,
    cursor: str | None = None,
    status: int = 200,
    text: str | None = None,
    error: str | None = None,
    problem: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    record = await automation.get_rule(db, actor=actor, rule=rule)
    log = await automation.list_firings(
        db,
        actor=actor,
        query=automation.FiringQuery(rule=record.id, cursor=cursor, limit=LOG_PAGE),
    )
    if text is None and record.definition is None:
        text = record.stored
    elif text is None and record.definition is not None:
        stored = record.definition.model_dump(mode="json", exclude_defaults=True)
        text = json.dumps(stored, ensure_ascii=False, indent=2)
    [described] = await _described(request, db, actor, [record])
    words = i18n.translator(request)
    return page(
        request,
        "admin_automation_rule.html",
        status=status,
        actor=actor,
        described=described,
        text=text,
        error=error,
        problem=problem,
        notice=notice,
        firings=log.items,
        next_cursor=log.next_cursor,
        steps=steps_of(record, words.language),
        enrolments=await sequences.list_enrolments(db, rule_id=record.id, limit=ENROLMENTS),
        stopped=stopped_reasons(words),
    )


@router.post("/admin/automation/{rule}")
async def edit_rule(
    request: Request,
    rule: str,
    db: DbDep,
    actor: SessionActor,
    definition: Annotated[str, Form(max_length=MAX_DEFINITION)],
    csrf: CsrfField = None,
) -> HTMLResponse:
    """Replace a rule's definition with the JSON submitted; a refusal shows the page again
    with the text as it was sent and what is wrong (422)."""
    check_csrf(request, csrf)
    _admin_only(actor)
    words = i18n.translator(request)
    try:
        raw = json.loads(definition)
    except json.JSONDecodeError as exc:
        error = words.gettext(
            "The text is not valid JSON (line %(line)d, column %(column)d).",
            line=exc.lineno,
            column=exc.colno,
        )
        return await _rule_page(request, db, actor, rule, status=422, text=definition, error=error)
    try:
        parsed = automation.parse_definition(raw)
    except InvalidInput as exc:
        error = words.gettext("The rule is not valid:")
        problem = exc.message.removeprefix(_NOT_VALID)
        return await _rule_page(
            request, db, actor, rule, status=422, text=definition, error=error, problem=problem
        )
    await automation.update_rule(db, actor=actor, rule=rule, definition=parsed)
    notice = words.gettext("The rule was saved.")
    return await _rule_page(request, db, actor, rule, notice=notice)


_SWITCHES = {"enable": True, "disable": False}


@router.post("/admin/automation/{rule}/{switch}")
async def switch_rule(
    request: Request, rule: str, switch: str, db: DbDep, actor: SessionActor, csrf: CsrfField = None
) -> Response:
    """Turn a rule on or off, and go back to the list."""
    check_csrf(request, csrf)
    _admin_only(actor)
    if switch not in _SWITCHES:
        raise NotFound("no such page")
    await automation.update_rule(db, actor=actor, rule=rule, enabled=_SWITCHES[switch])
    return RedirectResponse("/admin/automation", status_code=303)


LEAD_FIRINGS = 20  # the lead page shows this many of the lead's latest firings


@dataclass(frozen=True)
class LeadAutomation:
    """What automation did for one lead, for the lead page (``lead_automation.html``)."""

    firings: list[automation.FiringRecord]
    enrolments: list[sequences.EnrolmentRecord]
    stopped: dict[str, str]


async def lead_automation(
    request: Request, db: DbDep, actor: Actor, lead_id: str
) -> LeadAutomation:
    """The lead's latest firings (what fired, what it did, why it skipped) and the
    sequences it is or was in; the caller has checked that the actor may see the lead."""
    log = await automation.list_firings(
        db, actor=actor, query=automation.FiringQuery(lead_id=lead_id, limit=LEAD_FIRINGS)
    )
    return LeadAutomation(
        firings=log.items,
        enrolments=await sequences.list_enrolments(db, lead_id=lead_id, limit=ENROLMENTS),
        stopped=stopped_reasons(i18n.translator(request)),
    )
