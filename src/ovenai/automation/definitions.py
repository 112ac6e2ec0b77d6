"""What a rule says: when it fires (trigger), for which leads (conditions), what it does
(actions). Validated here whether it comes from the seed file, the REST API or the
dashboard, so a rule that is stored can always be run.

A rule in YAML (``default_rules.yaml``)::

    - key: greet_new_whatsapp_lead
      name: Greet a lead who writes in, in their language
      trigger: {kind: first_message}
      conditions: {languages: [he, en]}
      actions:
        - {type: send_template, family: welcome_new_lead}

Triggers (``kind``): ``first_message`` (a message from a lead we never wrote to nor heard
from: a stranger who wrote in), ``message`` (any inbound message; ``intents`` and
``keywords`` narrow it), ``button`` (a tap on a button or list row; ``payloads`` and
``intents`` narrow it), ``lead_created`` (a lead added through the API or, when asked
to greet, an import; ``sources`` narrows it), ``meeting_booked`` (a viewing created, or
confirmed later), ``meeting_day_before`` (a viewing tomorrow, from ``hour`` on) and
``meeting_passed`` (``hours_after`` a viewing ended; :mod:`ovenai.automation.timed`),
``no_reply`` (we wrote to the lead and they have not answered for ``days``: once per
silence; :mod:`ovenai.automation.timed`) and ``stage_changed`` (an agent or the API moved
the lead; the ``stages`` condition names the new stage). A trigger's ``sources`` narrows
``lead_created``, ``meeting_booked`` and ``stage_changed`` to leads from those sources.
Conditions all hold together; a list means "one of these".
Actions run in order; a send that cannot go (the window is closed, the lead opted out, no
template in the lead's language) stops the rule and is logged as skipped with the reason.
Besides sending, changing the stage, assigning and answering viewings, a rule may
``notify_agent`` (an in-app notification, and e-mail when SMTP is configured) and
``start_sequence`` (a follow-up sequence: steps days apart, each free text while the
window is open and a template once it has closed, stopped when the lead answers, opts out
or changes stage; :mod:`ovenai.automation.sequences`).

YAML reads a bare ``on`` as true: the trigger's field is ``kind`` for that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from string import Formatter
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from ovenai.errors import InvalidInput
from ovenai.intents import Intent, normalise
from ovenai.models import Language, Source, Stage

SEED_FILE = Path(__file__).with_name("default_rules.yaml")

TriggerKind = Literal[
    "first_message",
    "message",
    "button",
    "lead_created",
    "meeting_booked",
    "meeting_day_before",
    "meeting_passed",
    "stage_changed",
    "no_reply",
]
MESSAGE_TRIGGERS: frozenset[str] = frozenset({"first_message", "message", "button"})
TIMED_TRIGGERS: frozenset[str] = frozenset({"meeting_day_before", "meeting_passed", "no_reply"})

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Word = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(_Strict):
    """When a rule fires."""

    kind: TriggerKind
    intents: list[Intent] = Field(default_factory=list, max_length=10)
    keywords: list[Word] = Field(default_factory=list, max_length=50)
    payloads: list[Word] = Field(default_factory=list, max_length=20)
    sources: list[Source] = Field(default_factory=list, max_length=10)
    hour: int = Field(18, ge=0, le=23)
    """``meeting_day_before``: from this hour (the agency's zone) on the day before."""
    hours_after: float = Field(1.0, ge=0, le=720)
    """``meeting_passed``: this long after the viewing ended."""
    days: float = Field(3.0, gt=0, le=365)
    """``no_reply``: this long since we wrote without an answer."""

    def keywords_normalised(self) -> list[str]:
        """The keywords as the lexicon spells text (see :func:`ovenai.intents.normalise`)."""
        return [normalise(word) for word in self.keywords]


class Conditions(_Strict):
    """For which leads: every condition given must hold."""

    stages: list[Stage] = Field(default_factory=list, max_length=10)
    languages: list[Language] = Field(default_factory=list, max_length=5)
    sources: list[Source] = Field(default_factory=list, max_length=10)
    min_score: int | None = Field(default=None, ge=0, le=100)
    max_score: int | None = Field(default=None, ge=0, le=100)
    assigned: bool | None = None
    """True: only leads with an agent; False: only leads without one."""
    agents: list[Annotated[str, StringConstraints(max_length=36)]] = Field(
        default_factory=list, max_length=50
    )
    has_property: bool | None = None


Text = dict[Language, Annotated[str, StringConstraints(min_length=1, max_length=4096)]]


class SendTemplate(_Strict):
    """Send an approved template of this family in the lead's language (its parameters
    filled from the lead, their property and next viewing). ``otherwise_text``: free text
    sent instead when the template cannot be (a parameter is unknown, no version in the
    lead's language) and the lead's 24-hour window is open."""

    type: Literal["send_template"]
    family: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    otherwise_text: Text | None = None


class SendText(_Strict):
    """Send free text in the lead's language (only while their 24-hour window is open)."""

    type: Literal["send_text"]
    text: Text


class SendListingFile(_Strict):
    """Send the lead's listing's brochure or first photo (ovenai.property_files), with a
    caption in the lead's language if given, while the lead's 24-hour window is open. A
    lead without a listing, or a listing without such a file, is skipped and logged."""

    type: Literal["send_listing_file"]
    role: Literal["photo", "brochure"]
    caption: Text | None = None


class SetStage(_Strict):
    """Move the lead to a stage (only forward along the pipeline unless ``backwards``)."""

    type: Literal["set_stage"]
    stage: Stage
    backwards: bool = False


class AssignAgent(_Strict):
    """Give the lead to an agent when it has none (``replace``: even when it has one)."""

    type: Literal["assign_agent"]
    agent_id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    replace: bool = False


Title = Annotated[str, StringConstraints(min_length=1, max_length=20)]
VIEWING_FIELDS = frozenset({"day", "time"})


class ProposeViewing(_Strict):
    """Ask the lead to confirm a proposed viewing (the event's: ``meeting_booked``) with
    three reply buttons — confirm, another time, cancel — while the lead's window is open.
    Outside it nothing free-form may go: the template ``family`` goes instead, its three
    quick-reply buttons carrying the same answers (``viewing_proposal``: the lead's name and
    the viewing's day and time), or, without one, the firing says why nothing went.
    ``text`` may name ``{day}`` (08/12) and ``{time}`` (18:30); a tap comes back as
    ``viewing_confirm:<meeting id>``, ``viewing_reschedule:...`` or ``viewing_cancel:...``
    (see :class:`AnswerViewing`)."""

    type: Literal["propose_viewing"]
    text: Text
    buttons: dict[Language, tuple[Title, Title, Title]]
    family: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None

    @field_validator("text")
    @classmethod
    def _known_fields(cls, value: dict[Language, str]) -> dict[Language, str]:
        for text in value.values():
            try:
                named = {field for _, field, _, _ in Formatter().parse(text) if field is not None}
            except ValueError as exc:
                raise ValueError(f"the text is not a valid pattern: {exc}") from None
            if not named <= VIEWING_FIELDS:
                unknown = ", ".join(sorted(named - VIEWING_FIELDS))
                raise ValueError(f"the text may name only {{day}} and {{time}}, not {unknown}")
        return value


class AnswerViewing(_Strict):
    """Apply a tap on a viewing's button to the viewing: ``viewing_confirm`` confirms it,
    ``viewing_cancel`` cancels it, ``viewing_reschedule`` leaves it and says the lead asks
    for another time. The payload names the viewing (``viewing_confirm:<meeting id>``);
    without one, the lead's next proposed or confirmed viewing."""

    type: Literal["answer_viewing"]


class NotifyAgent(_Strict):
    """Tell the lead's agent (every admin when it has none) in the app — a notification
    with this text in the agent's language, linking the lead — and by e-mail when SMTP is
    configured. The text is the rule's: the lead's own words are never copied into it."""

    type: Literal["notify_agent"]
    text: Text


class SequenceStep(_Strict):
    """One step of a sequence, ``after_days`` after the lead was enrolled: ``text`` while
    the lead's 24-hour window is open, the template ``family`` once it has closed (either
    may be missing: the step is then skipped in that case, and logged)."""

    after_days: float = Field(ge=0, le=365)
    text: Text | None = None
    family: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None

    @model_validator(mode="after")
    def _something_to_send(self) -> SequenceStep:
        if self.text is None and self.family is None:
            raise ValueError("a step needs a text, a template family, or both")
        return self


class StartSequence(_Strict):
    """Enrol the lead in a follow-up sequence; its steps go one by one (the worker's job
    ``automation.timed``) until the last, or until the lead answers, opts out or changes
    stage."""

    type: Literal["start_sequence"]
    steps: list[SequenceStep] = Field(min_length=1, max_length=10)

    @field_validator("steps")
    @classmethod
    def _in_order(cls, value: list[SequenceStep]) -> list[SequenceStep]:
        days = [step.after_days for step in value]
        if days != sorted(days):
            raise ValueError("the steps must come in order of after_days")
        return value


Action = Annotated[
    SendTemplate
    | SendText
    | SendListingFile
    | SetStage
    | AssignAgent
    | AnswerViewing
    | ProposeViewing
    | NotifyAgent
    | StartSequence,
    Field(discriminator="type"),
]
SEND_ACTIONS = (SendTemplate, SendText, SendListingFile, ProposeViewing)


class RuleDefinition(_Strict):
    """One rule as stored (``automation_rules.definition``) and edited."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    trigger: Trigger
    conditions: Conditions = Conditions()
    actions: list[Action] = Field(min_length=1, max_length=10)

    @property
    def sends(self) -> bool:
        """Whether any action sends a message."""
        return any(isinstance(action, SEND_ACTIONS) for action in self.actions)


class SeedRule(RuleDefinition):
    """A rule of the seed file: its definition, its key and whether it starts enabled."""

    key: Key
    enabled: bool = True

    def definition(self) -> RuleDefinition:
        """The stored part."""
        return RuleDefinition.model_validate(self.model_dump(exclude={"key", "enabled"}))


def parse_definition(raw: object) -> RuleDefinition:
    """A rule's definition from JSON-like data; InvalidInput says what is wrong and where."""
    try:
        return RuleDefinition.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(f"the rule is not valid: {_first_problem(exc)}") from None


def read_stored(stored: str) -> tuple[RuleDefinition | None, str | None]:
    """A stored definition (JSON), or None and what is wrong with it: a rule stored by an
    older version, or edited in the database, may no longer validate; pages and the API
    show it as invalid (to be fixed or removed) instead of failing."""
    try:
        return RuleDefinition.model_validate_json(stored), None
    except ValidationError as exc:
        return None, f"the rule is not valid: {_first_problem(exc)}"


def load_seed(path: Path = SEED_FILE) -> list[SeedRule]:
    """The rules of a seed file (a YAML list); InvalidInput names the first bad one."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(raw, list):
        raise InvalidInput(f"{path.name}: expected a list of rules")
    rules: list[SeedRule] = []
    for n, item in enumerate(raw, 1):
        try:
            rules.append(SeedRule.model_validate(item))
        except ValidationError as exc:
            raise InvalidInput(f"{path.name}, rule {n}: {_first_problem(exc)}") from None
    _refuse_repeated_keys(rules, path.name)
    return rules


def _refuse_repeated_keys(rules: Sequence[SeedRule], where: str) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.key in seen:
            raise InvalidInput(f"{where}: the key {rule.key} is used twice")
        seen.add(rule.key)


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])
