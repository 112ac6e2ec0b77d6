"""The agents' inbox: the leads an actor may see, the most recently active first.

A lead's last activity is its newest message either way, else its creation (the lead keeps
its newest message's time and id: migration 0025's triggers, whoever writes). The list is
keyset-paged on (last activity, id), so it goes on without limit and a lead that writes
while someone pages moves to the top instead of shifting the pages. Each row carries the
lead's latest message (opened with the lead's key: only the page's messages are opened),
whether it needs a reply (the latest message is inbound), how many inbound messages came
since the actor last opened the lead (:func:`mark_seen`, from the lead page), the state of
its 24-hour window, its stage, agent and score.

Search: a query with letters is matched as word prefixes of the name (as
:func:`ovenai.leads.list_leads`); one of digits and separators as the start or end of the
phone number in any format (:mod:`ovenai.phone_search`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import StringConstraints
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects, phone_search
from ovenai.auth import Actor
from ovenai.columns import UTCDateTime, utcnow
from ovenai.conversations import MessageRecord, open_message
from ovenai.db import Database
from ovenai.errors import InvalidInput
from ovenai.keystore import Vault
from ovenai.lead_fields import Id, Score
from ovenai.leads import LeadRecord, name_matches, open_leads, visible_to
from ovenai.models import (
    Direction,
    Lead,
    LeadView,
    Message,
    Source,
    Stage,
    User,
)
from ovenai.outbox.rules import SERVICE_WINDOW
from ovenai.pagination import Page, PageQuery

BAD_CURSOR = "the cursor is not valid"


class InboxFilter(PageQuery):
    """What the inbox shows: filters, a search and where the page starts."""

    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    stage: Stage | None = None
    source: Source | None = None
    agent: Id | None = None
    needs_reply: bool = False  # only leads whose latest message is theirs
    window_open: bool = False  # only leads who may be sent free text now
    min_score: Score | None = None
    # activity: the most recently active first; score: the highest score first, then activity
    sort: Literal["activity", "score"] = "activity"


@dataclass(frozen=True)
class InboxRow:
    """One lead as the inbox shows it."""

    lead: LeadRecord
    last_activity_at: datetime
    latest: MessageRecord | None
    needs_reply: bool
    unread: int
    window_closes_at: datetime | None  # None: the window is closed
    agent_email: str | None

    @property
    def window_left(self) -> timedelta | None:
        """How long free text may still be sent (None: the window is closed)."""
        if self.window_closes_at is None:
            return None
        return max(self.window_closes_at - utcnow(), timedelta(0))


def _activity() -> ColumnElement[datetime]:
    """The lead's newest message's time, else its creation (kept: migration 0025)."""
    return type_coerce(Lead.last_activity_at, UTCDateTime)


def _awaits_reply() -> ColumnElement[bool]:
    """The lead's newest message is inbound."""
    latest = Message.id == Lead.latest_message_id
    return exists().where(latest, Message.direction == Direction.INBOUND.value).correlate(Lead)


async def list_inbox(db: Database, *, actor: Actor, filters: InboxFilter) -> Page[InboxRow]:
    """One page of the actor's inbox, most recently active first (or highest score first)."""
    now = utcnow()
    if filters.q and phone_search.is_phone_query(filters.q):
        phone_search.query_digits(filters.q)  # too short: refused before anything is written
        async with db.session() as session:
            await phone_search.refresh(session, db.vault)
    activity = _activity().label("activity")
    agent_email: Any = User.email.label("agent_email")
    # The latest message and the agent's e-mail come with their lead (an outer join by
    # primary key on the page's rows), not by a query of their own.
    query = (
        select(Lead, activity, Message, agent_email)
        .outerjoin(Message, Message.id == Lead.latest_message_id)
        .outerjoin(User, User.id == Lead.assigned_agent_id)
        .where(visible_to(actor))
    )
    query = _filtered(query, db.vault, filters, now)
    if filters.cursor:
        query = query.where(_after(activity, filters))
    order: tuple[Any, ...] = (activity.desc(), Lead.id.desc())
    if filters.sort == "score":
        order = (Lead.engagement_score.desc(), *order)
    query = query.order_by(*order).limit(filters.limit + 1)
    async with db.reading() as session:
        rows = list((await session.execute(query)).all())
        more = len(rows) > filters.limit
        rows = rows[: filters.limit]
        leads = [row[0] for row in rows]
        unread = await _unread(session, actor, [lead.id for lead in leads])
    records = await open_leads(db.vault, leads)
    keys = await db.vault.lead_keys({message.lead_id for _l, _a, message, _e in rows if message})
    items = []
    for record, (lead, at, message, email) in zip(records, rows, strict=True):
        latest = open_message(message, keys[lead.id]) if message is not None else None
        closes = lead.last_inbound_at + SERVICE_WINDOW if lead.last_inbound_at else None
        items.append(
            InboxRow(
                lead=record,
                last_activity_at=at,
                latest=latest,
                needs_reply=latest is not None and latest.direction == Direction.INBOUND,
                unread=unread.get(lead.id, 0),
                window_closes_at=closes if closes is not None and closes > now else None,
                agent_email=email,
            )
        )
    cursor = None
    if more:
        last = items[-1]
        cursor = encode_cursor(last.lead.engagement_score, last.last_activity_at, last.lead.id)
    return Page(items, cursor)


def _after(activity: ColumnElement[datetime], filters: InboxFilter) -> ColumnElement[bool]:
    """The rows after the cursor's: keyset on (activity, id), or (score, activity, id)."""
    assert filters.cursor is not None
    score, at, lead_id = decode_cursor(filters.cursor)
    moment = type_coerce(literal(at), UTCDateTime)
    # One row comparison: the index on (last activity, id) starts right after the cursor.
    later = tuple_(activity, Lead.id) < tuple_(moment, literal(lead_id))
    if filters.sort != "score":
        return later
    return or_(Lead.engagement_score < score, and_(Lead.engagement_score == score, later))


def _filtered(query: Select[Any], vault: Vault, filters: InboxFilter, now: datetime) -> Select[Any]:
    if filters.stage:
        query = query.where(Lead.stage == filters.stage)
    if filters.source:
        query = query.where(Lead.source == filters.source)
    if filters.agent:
        query = query.where(Lead.assigned_agent_id == filters.agent)
    if filters.min_score is not None:
        query = query.where(Lead.engagement_score >= filters.min_score)
    if filters.window_open:
        query = query.where(Lead.last_inbound_at > now - SERVICE_WINDOW)
    if filters.needs_reply:
        query = query.where(_awaits_reply())
    if filters.q:
        query = query.where(_search(vault, filters.q))
    return query


def _search(vault: Vault, q: str) -> ColumnElement[bool]:
    if phone_search.is_phone_query(q):
        return phone_search.matching(vault, q)
    return name_matches(vault, q)


async def _unread(session: AsyncSession, actor: Actor, lead_ids: list[str]) -> dict[str, int]:
    """Inbound messages each lead sent after the actor last opened it."""
    if not lead_ids:
        return {}
    seen = (
        select(LeadView.seen_at)
        .where(LeadView.user_id == actor.user_id, LeadView.lead_id == Message.lead_id)
        .correlate(Message)
        .scalar_subquery()
    )
    query = (
        select(Message.lead_id, func.count())
        .where(
            Message.lead_id.in_(lead_ids),
            Message.direction == Direction.INBOUND.value,
            or_(seen.is_(None), Message.created_at > seen),
        )
        .group_by(Message.lead_id)
    )
    return {lead_id: count for lead_id, count in (await session.execute(query)).all()}


async def agent_choices(db: Database, *, actor: Actor) -> list[tuple[str, str]]:
    """The agents the inbox may be filtered by (id, e-mail): every active user for admins,
    themselves for agents."""
    if not actor.is_admin:  # signed in, so active: no query
        return [(actor.user_id, actor.email)] if actor.user_id else []
    query = select(User.id, User.email).where(User.is_active.is_(True)).order_by(User.email)
    async with db.reading() as session:
        return [(user_id, email) for user_id, email in (await session.execute(query)).all()]


async def mark_seen(db: Database, *, actor: Actor, lead_id: str) -> None:
    """Record that the actor opened the lead now: its inbound messages so far are read.

    Call it after the lead was read for the actor (:func:`ovenai.leads.get_lead`), which
    checks they may see it; the system actor has no inbox and records nothing.
    """
    if actor.user_id is None:
        return
    now = utcnow()
    async with db.session() as session:
        upsert = dialects.insert(session, LeadView.__table__).values(
            user_id=actor.user_id, lead_id=lead_id, seen_at=now
        )
        keys = [LeadView.user_id, LeadView.lead_id]
        await session.execute(
            upsert.on_conflict_do_update(index_elements=keys, set_={"seen_at": now})
        )
        await session.commit()


def encode_cursor(score: int, at: datetime, lead_id: str) -> str:
    """An opaque cursor pointing after the lead last shown (its score, last activity, id)."""
    raw = f"{score}|{at.isoformat()}|{lead_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime, str]:
    """The score, last activity and id a cursor points after; InvalidInput for a cursor we
    did not make."""
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        score_text, at_text, lead_id = raw.split("|")
        score, at = int(score_text), datetime.fromisoformat(at_text)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(BAD_CURSOR, field="cursor") from exc
    if at.tzinfo is None or len(lead_id) != 36 or not 0 <= score <= 100:
        raise InvalidInput(BAD_CURSOR, field="cursor")
    return score, at, lead_id
