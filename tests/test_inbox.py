"""The agents' inbox (ovenai.inbox) on a real database (SQLite through both drivers, and
PostgreSQL): order by last activity, keyset paging, needs reply, unread counts, the window,
every filter, search by name and by a part of the phone, who sees what."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, update

from ovenai import auth, inbox, phones
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.errors import InvalidInput
from ovenai.inbox import InboxFilter
from ovenai.lead_fields import LeadCreate, LeadUpdate
from ovenai.leads import create_lead, identity_columns, update_lead
from ovenai.models import Direction, Lead, LeadPhoneToken, Message, MessageStatus, Role, Source
from ovenai.privacy import erase_lead
from ovenai.sealing import MESSAGES

pytestmark = pytest.mark.anyio
SYSTEM = Actor.system()


async def _agent(db: Database, email: str) -> Actor:
    user = await auth.create_user(db, email=email, role=Role.AGENT)
    return Actor(user_id=user.id, role=Role.AGENT, email=email)


async def _lead(db: Database, name: str, phone: str, **fields: object) -> str:
    data = LeadCreate.model_validate({"name": name, "phone": phone, **fields})
    return (await create_lead(db, actor=SYSTEM, data=data)).id


async def _message(
    db: Database, lead_id: str, direction: Direction, text: str, at: datetime
) -> None:
    """A stored message, sealed with its lead's key, as ingestion or the outbox store it."""
    key = await db.vault.key("lead", lead_id)
    inbound = direction is Direction.INBOUND
    status = MessageStatus.RECEIVED if inbound else MessageStatus.SENT
    message = Message(
        id=new_id(),
        lead_id=lead_id,
        direction=direction.value,
        type="text",
        status=status.value,
        status_at=at,
        created_at=at,
        updated_at=at,
    )
    MESSAGES.seal_into(message, key, {"text": text})
    async with db.session() as session:
        session.add(message)
        if inbound:
            await session.execute(update(Lead).where(Lead.id == lead_id).values(last_inbound_at=at))
        await session.commit()


async def _names(db: Database, actor: Actor = SYSTEM, **filters: object) -> list[str | None]:
    page = await inbox.list_inbox(db, actor=actor, filters=InboxFilter.model_validate(filters))
    return [row.lead.name for row in page.items]


async def test_the_most_recently_active_lead_comes_first_and_a_writer_jumps_to_the_top(
    db: Database,
) -> None:
    now = utcnow()
    quiet = await _lead(db, "Dana Levi", "050-111-2201")
    talked = await _lead(db, "Avi Cohen", "050-111-2202")
    await _lead(db, "Noa Bar", "050-111-2203")  # the newest lead, no message
    await _message(db, talked, Direction.OUTBOUND, "Hello Avi", now + timedelta(seconds=1))
    assert await _names(db) == ["Avi Cohen", "Noa Bar", "Dana Levi"]
    await _message(db, quiet, Direction.INBOUND, "Is it still free?", now + timedelta(seconds=2))
    page = await inbox.list_inbox(db, actor=SYSTEM, filters=InboxFilter())
    assert [row.lead.name for row in page.items] == ["Dana Levi", "Avi Cohen", "Noa Bar"]
    top = page.items[0]
    assert top.latest is not None and top.latest.text == "Is it still free?"
    assert top.needs_reply and top.last_activity_at == now + timedelta(seconds=2)
    assert page.items[1].latest is not None and page.items[1].latest.text == "Hello Avi"
    assert not page.items[1].needs_reply and page.items[2].latest is None


async def test_keyset_paging_through_130_leads_loses_and_repeats_none(db: Database) -> None:
    start = utcnow() - timedelta(hours=5)
    ids = [await _lead(db, f"Lead {n}", f"050-222-{n:04d}") for n in range(130)]
    for n, lead_id in enumerate(ids[::3]):  # some talked, at times out of creation order
        await _message(db, lead_id, Direction.INBOUND, "hi", start + timedelta(minutes=n % 7))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        filters = InboxFilter(limit=25, cursor=cursor)
        page = await inbox.list_inbox(db, actor=SYSTEM, filters=filters)
        if pages == 2:  # a lead on a page already seen writes meanwhile: it is not shown again
            await _message(db, seen[0], Direction.INBOUND, "again", utcnow())
        seen += [row.lead.id for row in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 6 and len(seen) == 130 and set(seen) == set(ids)
    by_score = []
    cursor = None
    while True:
        filters = InboxFilter(limit=40, cursor=cursor, sort="score")
        page = await inbox.list_inbox(db, actor=SYSTEM, filters=filters)
        by_score += [row.lead.id for row in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert sorted(by_score) == sorted(ids) and len(by_score) == 130


async def test_a_cursor_we_did_not_make_is_refused(db: Database) -> None:
    with pytest.raises(InvalidInput):
        await inbox.list_inbox(db, actor=SYSTEM, filters=InboxFilter(cursor="bm90IG1pbmU"))


async def test_unread_counts_inbound_messages_since_the_agent_last_opened_the_lead(
    db: Database,
) -> None:
    dana = await _agent(db, "dana@agency.co.il")
    avi = await _agent(db, "avi@agency.co.il")
    lead = await _lead(db, "Yael Golan", "050-333-4401")
    earlier = utcnow() - timedelta(minutes=10)
    await _message(db, lead, Direction.INBOUND, "one", earlier)
    await _message(db, lead, Direction.OUTBOUND, "answer", earlier + timedelta(minutes=1))
    await _message(db, lead, Direction.INBOUND, "two", earlier + timedelta(minutes=2))

    async def unread(actor: Actor) -> int:
        return (await inbox.list_inbox(db, actor=actor, filters=InboxFilter())).items[0].unread

    assert await unread(dana) == 2 and await unread(avi) == 2
    await inbox.mark_seen(db, actor=dana, lead_id=lead)
    assert await unread(dana) == 0 and await unread(avi) == 2  # each agent their own
    await _message(db, lead, Direction.INBOUND, "three", utcnow())
    assert await unread(dana) == 1
    await inbox.mark_seen(db, actor=dana, lead_id=lead)  # opened again: written over
    assert await unread(dana) == 0


async def test_the_window_is_open_for_24_hours_from_the_last_inbound_message(
    db: Database,
) -> None:
    now = utcnow()
    fresh = await _lead(db, "Open Window", "050-444-5501")
    stale = await _lead(db, "Closed Window", "050-444-5502")
    await _lead(db, "Never Wrote", "050-444-5503")
    await _message(db, fresh, Direction.INBOUND, "hi", now - timedelta(hours=20))
    await _message(db, stale, Direction.INBOUND, "hi", now - timedelta(hours=25))
    page = await inbox.list_inbox(db, actor=SYSTEM, filters=InboxFilter())
    rows = {row.lead.name: row for row in page.items}
    left = rows["Open Window"].window_left
    assert left is not None and timedelta(hours=3, minutes=59) < left <= timedelta(hours=4)
    assert rows["Closed Window"].window_left is None
    assert rows["Never Wrote"].window_left is None
    assert await _names(db, window_open=True) == ["Open Window"]


async def test_each_filter(db: Database) -> None:
    dana = await _agent(db, "dana@agency.co.il")
    now = utcnow()
    waiting = await _lead(db, "Waiting One", "050-555-0001", engagement_score=70)
    answered = await _lead(db, "Answered One", "050-555-0002", stage="contacted", source="portal")
    await _lead(db, "Dana's One", "050-555-0003", assigned_agent_id=dana.user_id)
    await _message(db, waiting, Direction.INBOUND, "hello?", now - timedelta(minutes=5))
    await _message(db, answered, Direction.INBOUND, "hi", now - timedelta(minutes=4))
    await _message(db, answered, Direction.OUTBOUND, "hello", now - timedelta(minutes=3))
    assert await _names(db, needs_reply=True) == ["Waiting One"]
    assert await _names(db, stage="contacted") == ["Answered One"]
    assert await _names(db, source=Source.PORTAL.value) == ["Answered One"]
    assert await _names(db, agent=dana.user_id) == ["Dana's One"]
    assert await _names(db, min_score=50) == ["Waiting One"]
    assert await _names(db, window_open=True, needs_reply=True) == ["Waiting One"]
    assert await _names(db, stage="won") == []


async def test_search_by_name_and_by_any_part_of_the_phone_in_any_format(db: Database) -> None:
    await _lead(db, "יעל כהן", "050-123-4567")
    await _lead(db, "Moshe Levi", "+972 52-765-4321")
    assert await _names(db, q="יעל") == ["יעל כהן"]
    assert await _names(db, q="lev") == ["Moshe Levi"]
    for query in ("050-123", "0501234567", "050 123 4567", "4567", "+972 50", "97250123"):
        assert await _names(db, q=query) == ["יעל כהן"], query
    for query in ("4321", "052-765", "+972-52-765-4321", "00972 52"):
        assert await _names(db, q=query) == ["Moshe Levi"], query
    assert await _names(db, q="9999") == []
    with pytest.raises(InvalidInput):
        await _names(db, q="050")  # too few digits to search by


async def test_the_phone_search_follows_a_changed_phone_and_forgets_an_erased_lead(
    db: Database,
) -> None:
    moved = await _lead(db, "Ron Shani", "050-600-1111")
    gone = await _lead(db, "Gil Tal", "050-600-2222")
    assert await _names(db, q="1111") == ["Ron Shani"]
    changes = LeadUpdate(phone="050-600-3333")
    await update_lead(db, actor=SYSTEM, lead_id=moved, changes=changes)
    assert await _names(db, q="1111") == []
    assert await _names(db, q="3333") == ["Ron Shani"]
    assert await _names(db, q="2222") == ["Gil Tal"]
    await erase_lead(db, actor=SYSTEM, lead_id=gone)
    assert await _names(db, q="2222") == []
    await update_lead(db, actor=SYSTEM, lead_id=moved, changes=LeadUpdate(phone=None))
    assert await _names(db, q="3333") == []
    async with db.session() as session:  # no part of an erased or cleared phone is kept
        left = select(func.count()).where(LeadPhoneToken.lead_id.in_([gone, moved]))
        assert await session.scalar(left) == 0


async def test_a_lead_keeps_the_phone_its_search_tokens_were_made_from(db: Database) -> None:
    """The search's refresh redoes only the leads whose phone differs from the one their
    tokens were made from (migration 0029's mark and index), not every lead with a
    phone against every token; a phone written where no writer tokenises (raw SQL) is
    found at the next search, and erasure clears the mark with the phone."""
    kept = await _lead(db, "Ron Shani", "050-600-1111")
    other = await _lead(db, "Gil Tal", "050-600-2222")
    assert await _names(db, q="1111") == ["Ron Shani"]
    moved = await _sealed_phone(db, other, "050-600-3333")
    async with db.session() as session:
        marks = select(Lead.id, Lead.phone_index, Lead.phone_tokens_index)
        for _lead_id, phone_index, made_from in (await session.execute(marks)).all():
            assert made_from == phone_index is not None
        # The marked lead's tokens go without the mark changing: the refresh trusts it.
        await session.execute(delete(LeadPhoneToken).where(LeadPhoneToken.lead_id == kept))
        # A phone changed under the mark (no writer's tokens): marked stale by the change.
        await session.execute(update(Lead).where(Lead.id == other).values(**moved))
        await session.commit()
    assert await _names(db, q="1111") == []  # not redone: its mark says it is current
    assert await _names(db, q="3333") == ["Gil Tal"]
    assert await _names(db, q="2222") == []
    await erase_lead(db, actor=SYSTEM, lead_id=other)
    async with db.session() as session:
        erased = await session.get(Lead, other)
        assert erased is not None and erased.phone_tokens_index is None


async def _sealed_phone(db: Database, lead_id: str, phone: str) -> dict[str, object]:
    """The sealed phone and its index for a lead, as a writer stores them."""
    key = await db.vault.key("lead", lead_id)
    e164 = phones.normalize(phone)
    return identity_columns(db.vault, lead_id, key, {"phone": e164})


async def test_agents_see_their_own_and_unassigned_leads_only(db: Database) -> None:
    dana = await _agent(db, "dana@agency.co.il")
    avi = await _agent(db, "avi@agency.co.il")
    await _lead(db, "Dana's", "050-700-0001", assigned_agent_id=dana.user_id)
    await _lead(db, "Avi's", "050-700-0002", assigned_agent_id=avi.user_id)
    await _lead(db, "Nobody's", "050-700-0003")
    assert await _names(db, dana) == ["Nobody's", "Dana's"]
    assert await _names(db, avi) == ["Nobody's", "Avi's"]
    assert await _names(db, q="0002") == ["Avi's"]  # a number's last four, even "00..."
    assert await _names(db, dana, q="0002") == []  # another agent's phone finds nothing
    page = await inbox.list_inbox(db, actor=dana, filters=InboxFilter())
    assert page.items[1].agent_email == "dana@agency.co.il"
