"""Property, on SQLite and PostgreSQL: when one part of Meta's batch is broken, every other
item is applied exactly once, the broken part is recorded once at its path, and neither Meta's
retry of the same body nor a replay of the failures applies anything twice.

Bodies come from ``ingest.strategies``: random batches with one random break, delivered one at
a time, and a fixed walk through one break of each kind for each kind of part, delivered
together as the processor batches them. The examples of a test share its database, so each
numbers its users, messages and templates afresh. The session's live server
runs a processor of its own against that database and may apply a body first: what is stored
is judged, never a processor's report.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.strategies import (
    CATALOGUE,
    MISSING,
    STATUS_KINDS,
    STRAY,
    Broken,
    Damage,
    Expected,
    Json,
    Outcome,
    Part,
    Step,
    batches,
    broken_batches,
    damaged,
    damages_of,
    parts,
    small_batch,
)
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.events.enums import MarketingPreference
from ovenai.ingest import failures
from ovenai.keystore import Vault
from ovenai.leads import find_by_identity
from ovenai.models import (
    AppliedItem,
    ConsentEvent,
    Direction,
    Lead,
    Message,
    MessageTemplate,
    StatusEvent,
    WebhookEvent,
    WebhookItemFailure,
)

pytestmark = pytest.mark.anyio

NUMBERS = itertools.count(1, 100)  # where each example's numbering starts (< 100 items each)
PENDING = "PENDING"  # a template's status before Meta's update
TAMPERED = "TAMPERED"  # set after the first delivery: applying the update again would undo it
APPLIED = ("InboundMessage", "StatusUpdate", "UserPreference", "TemplateStatusUpdate")


def numbered_afresh() -> st.SearchStrategy[Broken]:
    """Broken batches numbered from where the previous example's numbers end: the number
    is taken, not drawn, so shrinking replays the same draws with fresh ids."""
    return st.builds(next, st.just(NUMBERS)).flatmap(lambda n: broken_batches(batches(start=n)))


@settings(
    max_examples=20,
    deadline=None,
    # One database (and harness) serves every example: each numbers its items afresh.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(broken=numbered_afresh())
async def test_any_batch_with_one_broken_part_applies_the_rest_once(
    harness: Any, broken: Broken
) -> None:
    await deliver_retry_and_replay(harness, [broken])


async def test_each_kind_of_break_of_each_kind_of_part_applies_the_rest_once(harness: Any) -> None:
    walk = one_break_of_each_kind()
    assert {kind for kind, _, _ in walk} == set(CATALOGUE)
    assert {outcome for _, _, outcome in walk} == set(Outcome)
    cases = []
    for index, damage in walk.values():
        sound = small_batch(start=next(NUMBERS))
        cases.append(damaged(sound, parts(sound.doc)[index], damage))
    await deliver_retry_and_replay(harness, cases)  # together, as the processor batches them


# ------------------------------------------------------------------------------ the walk


def kind_of_break(damage: Damage) -> str:
    """How a catalogued damage breaks its part."""
    if not damage.at:
        return "not an object"
    if damage.respell:
        return "respelled"
    if damage.value is MISSING:
        return "missing"
    if damage.value is None:
        return "null"
    if damage.value == []:
        return "empty list"
    if damage.at[-1] == STRAY[0]:
        return "new key"
    return "unknown value" if "unknown value" in damage.label else "mistyped"


Walk = dict[tuple[str, str, Outcome], tuple[int, Damage]]
"""(part kind, kind of break, outcome) → (index of the part in the small batch, damage)."""


def one_break_of_each_kind() -> Walk:
    """The small batch's first damage of each kind of break of each kind of part, once for
    each outcome it can have."""
    sound, walk = small_batch(), Walk()
    for index, part in enumerate(parts(sound.doc)):
        node = at(sound.doc, part.where)
        for damage in damages_of(sound, part):
            key = (part.kind, kind_of_break(damage), damage.outcome(node))
            walk.setdefault(key, (index, damage))
    return walk


# ------------------------------------------------------------------------ the round trip


async def deliver_retry_and_replay(harness: Any, cases: Sequence[Broken]) -> None:
    """Deliver the bodies and check them; deliver them again (Meta's retry: bodies of their
    own), replay the failures, and check that nothing applied twice."""
    for broken in cases:
        await seed(harness.db, broken)
    since = utcnow()
    first = await deliver(harness, cases)
    for broken, body in zip(cases, first, strict=True):
        await assert_applied_once(harness.db, broken, [body])
        await tamper_templates(harness.db, broken)
    again = await deliver(harness, cases)
    wanted = [requeued(broken) for broken in cases]
    assert await replay_failed(harness, since, first + again) == failures.Requeued(
        sum(r.failed for r in wanted), sum(r.with_failed_items for r in wanted)
    )
    for broken, *bodies in zip(cases, first, again, strict=True):
        await assert_applied_once(harness.db, broken, bodies, tampered=True)


async def deliver(harness: Any, cases: Sequence[Broken]) -> list[str]:
    """Store each body as signed by Meta, then wait until every one is settled."""
    ids = [await harness.keep(broken.body) for broken in cases]
    await harness.settle(ids)
    return ids


async def replay_failed(harness: Any, since: datetime, ids: list[str]) -> failures.Requeued:
    """``ovenai webhooks replay --failed --since``: requeue, then drain until settled."""
    async with harness.db.session() as session:
        done = await failures.requeue_failed(session, since)
        await session.commit()
    await harness.settle(ids)
    return done


def requeued(broken: Broken) -> failures.Requeued:
    """What a replay finds to requeue among a body's two deliveries."""
    failed = nothing_readable(broken.expected())
    partial = broken.outcome is Outcome.UNREADABLE and not failed
    return failures.Requeued(failed=2 * failed, with_failed_items=2 * partial)


def nothing_readable(expected: Sequence[Expected]) -> bool:
    """Whether the body holds items and none of them could be read (it ends ``failed``)."""
    return bool(expected) and all(x.kind == "UnreadableItem" for x in expected)


# ------------------------------------------------------------------------------- seeding


async def seed(db: Database, broken: Broken) -> None:
    """Our outbound messages the statuses are about, and the templates the updates are about."""
    doc, found = broken.sound.doc, parts(broken.sound.doc)
    wamids = [at(doc, p.where)["id"] for p in found if p.kind == "status"]
    templates = [p.where for p in found if p.kind == "template_change"]
    async with db.session() as session:
        if wamids:
            lead = Lead(id=new_id(), source="manual")
            await db.vault.new_lead_key(lead.id)
            session.add(lead)
            await session.flush()
            session.add_all(outbound(lead.id, wamid) for wamid in wamids)
        session.add_all(template(doc, where) for where in templates)
        await session.commit()


def outbound(lead_id: str, wamid: str) -> Message:
    """An outbound message as the outbox leaves it once Meta accepted it."""
    return Message(
        id=new_id(),
        lead_id=lead_id,
        direction=Direction.OUTBOUND,
        type="text",
        wa_message_id=wamid,
        status="sending",
        status_at=utcnow(),
    )


def template(doc: Json, where: tuple[Step, ...]) -> MessageTemplate:
    """The registry row a ``message_template_status_update`` change is about, in its WABA."""
    value = at(doc, where)["value"]
    name = value["message_template_name"]
    return MessageTemplate(
        waba_id=str(doc["entry"][where[1]]["id"]),
        name=name,
        language=value["message_template_language"],
        family=name,
        category="MARKETING",
        status=PENDING,
        meta_id=str(value["message_template_id"]),
        components=[],
    )


async def tamper_templates(db: Database, broken: Broken) -> None:
    """Mark every updated template: an update applied a second time would undo the mark."""
    doc = broken.sound.doc
    ids = [template_id(doc, p) for p in parts(doc) if p.kind == "template_change"]
    updated = (MessageTemplate.meta_id.in_(ids), MessageTemplate.status != PENDING)
    async with db.session() as session:
        await session.execute(update(MessageTemplate).where(*updated).values(status=TAMPERED))
        await session.commit()


def template_id(doc: Json, part: Part) -> str:
    """Meta's id of the template a template change is about."""
    return str(at(doc, part.where)["value"]["message_template_id"])


def at(doc: Json, where: Sequence[Step]) -> Json:
    """The node of ``doc`` at ``where``."""
    for step in where:
        doc = doc[step]
    return doc


# ---------------------------------------------------------------------------- the checks


async def assert_applied_once(
    db: Database, broken: Broken, ids: list[str], *, tampered: bool = False
) -> None:
    """Each delivery settled as it must; each item applied once, or not at all if unread."""
    what = f"{broken.part.path}: {broken.damage.label} ({broken.outcome.value})"
    async with db.session() as session:
        await assert_settled(session, broken, ids, what)
        await assert_items(Context(session, db.vault, tampered), broken, what)


async def assert_settled(session: AsyncSession, broken: Broken, ids: list[str], what: str) -> None:
    """Each delivery is processed (failed only if nothing in it could be read) and keeps the
    broken part's failure; the first delivery claimed every key, the others none."""
    expected = broken.expected()
    unreadable = [(x.item, x.path) for x in expected if x.kind == "UnreadableItem"]
    assert len(unreadable) == int(broken.outcome is Outcome.UNREADABLE), what
    status = ("failed", "UnreadableItem") if nothing_readable(expected) else ("processed", "")
    assert await settled(session, ids) == [(status, unreadable)] * len(ids), what
    assert await claims(session, expected) == wanted_claims(expected, ids[0]), what
    assert await claims_of(session, ids[1:]) == 0, what


async def assert_items(context: Context, broken: Broken, what: str) -> None:
    """Every item the body holds, readable, is applied once; the others not at all."""
    applied = {x.path for x in broken.expected() if x.kind in APPLIED}
    items = [part for part in parts(broken.sound.doc) if part.kind in OBSERVE]
    assert applied <= {part.path for part in items}, f"{what}: {applied} are no items"
    for part in items:
        read = at(broken.doc, part.where) if part.path in applied else None
        sound = at(broken.sound.doc, part.where)
        got, want = await OBSERVE[part.kind](context, sound, read)
        assert got == want, f"{what}: {part.path} (read: {read is not None})"


Settled = tuple[tuple[str, str], list[tuple[str, str]]]


async def settled(session: AsyncSession, ids: list[str]) -> list[Settled]:
    """Each body's status (with the kind of its error) and its failure rows (item, path)."""
    found: list[Settled] = []
    for event_id in ids:
        body = await session.get(WebhookEvent, event_id)
        assert body is not None
        rows = await session.scalars(
            select(WebhookItemFailure).where(WebhookItemFailure.event_id == event_id)
        )
        error = (body.error or "").split(":")[0]
        found.append(((body.status, error), sorted((row.item, row.path) for row in rows)))
    return found


def wanted_claims(expected: Sequence[Expected], owner: str) -> dict[str, str]:
    """Every applied item but statuses (kept by ``status_events``) claims its key, once."""
    claimed = [x for x in expected if x.kind in APPLIED and x.kind != "StatusUpdate"]
    return {str(x.key)[:200]: owner for x in claimed}


async def claims(session: AsyncSession, expected: Sequence[Expected]) -> dict[str, str | None]:
    """The claimed keys of these items, with the body that claimed each."""
    keys = [str(x.key)[:200] for x in expected if x.key is not None]
    query = select(AppliedItem.dedupe_key, AppliedItem.event_id)
    rows = await session.execute(query.where(AppliedItem.dedupe_key.in_(keys)))
    return {key: owner for key, owner in rows}


async def claims_of(session: AsyncSession, ids: list[str]) -> int:
    """How many keys these bodies claimed."""
    query = select(func.count()).where(AppliedItem.event_id.in_(ids))
    return int(await session.scalar(query) or 0)


@dataclass(frozen=True)
class Context:
    """Where the checks look, and whether the templates were marked since."""

    session: AsyncSession
    vault: Vault
    tampered: bool

    async def lead(self, bsuid: Json, wa_id: Json) -> str | None:
        """The id of the lead behind these identifiers (those that are text)."""
        ids = {k: v for k, v in (("bsuid", bsuid), ("wa_id", wa_id)) if isinstance(v, str)}
        lead = await find_by_identity(self.session, self.vault, **ids)
        return None if lead is None else lead.id


Observed = tuple[object, object]


async def message_effect(context: Context, sound: Json, read: Json | None) -> Observed:
    """The inbound rows of the wamid: one, in its sender's lead, if the message was read."""
    query = select(Message.lead_id).where(
        Message.wa_message_id == sound["id"], Message.direction == Direction.INBOUND
    )
    got = list(await context.session.scalars(query))
    if read is None:
        return got, []
    return got, [await context.lead(read.get("from_user_id"), read.get("from"))]


async def status_effect(context: Context, sound: Json, read: Json | None) -> Observed:
    """The statuses recorded for our message, and its state: the status, once, if read."""
    wamid, session = sound["id"], context.session
    events = select(StatusEvent.status).where(StatusEvent.wa_message_id == wamid)
    state = select(Message.status).where(
        Message.wa_message_id == wamid, Message.direction == Direction.OUTBOUND
    )
    got = (list(await session.scalars(events)), await session.scalar(state))
    if read is None:
        return got, ([], "sending")
    raw = read["status"]  # an unknown status is kept, and moves nothing
    return got, ([raw], raw if raw in STATUS_KINDS else "sending")


LEDGER_KINDS = {
    MarketingPreference.STOP: "opt_out",
    MarketingPreference.RESUME: "opt_in",
    MarketingPreference.SIGNUP: "opt_in",
}


async def preference_effect(context: Context, sound: Json, read: Json | None) -> Observed:
    """The consent events of the user's lead: one, of the chosen value, if read."""
    lead = await context.lead(sound["user_id"], sound["wa_id"])
    query = select(ConsentEvent.kind).where(ConsentEvent.lead_id == lead)
    got = [] if lead is None else list(await context.session.scalars(query))
    if read is None:
        return got, []
    value = read.get("value")  # Meta's value as it came; none at all is "unknown"
    raw = (value if isinstance(value, str) else "")[:16] or "unknown"
    # The consent ledger's kinds (ovenai.consent): stop and resume (signup) are opt-out and
    # opt-in; a value Meta added since is kept as it came.
    known = MarketingPreference.parse(value if isinstance(value, str) else None)
    return got, [LEDGER_KINDS.get(known, raw)]


async def template_effect(context: Context, sound: Json, read: Json | None) -> Observed:
    """The template's status: Meta's event if read (the mark, once marked), else untouched."""
    meta_id = str(sound["value"]["message_template_id"])
    query = select(MessageTemplate.status).where(MessageTemplate.meta_id == meta_id)
    got = await context.session.scalar(query)
    if read is None:
        return got, PENDING
    return got, TAMPERED if context.tampered else str(read["value"]["event"]).upper()


OBSERVE: dict[str, Callable[[Context, Json, Json | None], Awaitable[Observed]]] = {
    "message": message_effect,
    "status": status_effect,
    "user_preference": preference_effect,
    "template_change": template_effect,
}
