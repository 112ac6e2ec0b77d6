"""In-app notifications for agents: what automation wants a person to know ("the lead
confirmed the viewing"), written by a rule's ``notify_agent`` action in the transaction of
the event, and read on ``/notifications``, in the header's unread count and through
``GET /api/v1/notifications``.

A notification goes to the lead's agent, or to every active admin when the lead has none
(someone must hear of it). Its text is the rule's, in the recipient's language; the lead's
own words never go into it (this table is not sealed). When SMTP is configured
(``OVENAI_SMTP_HOST``) the worker's job ``notifications.email`` also e-mails each one to
its recipient's address, once: a failed send is recorded as ``failed`` and not retried
(the notification itself is still in the app).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, ScalarSelect, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ovenai import scheduler
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.errors import NotFound
from ovenai.models import Language, Lead, Notification, Role, User
from ovenai.notifiers import EmailNotifier, NotifierError
from ovenai.pagination import Page, PageQuery, decode_cursor, encode_cursor
from ovenai.settings import Settings

log = logging.getLogger("ovenai.notifications")

EMAIL_BATCH = 50  # notifications e-mailed per run of the job (every 30 s)
SUBJECTS = {"he": "[OvenAI] עדכון על ליד", "en": "[OvenAI] A lead needs you"}
LINK_LINE = {"he": "פרטי הליד: /leads/{lead}", "en": "The lead: /leads/{lead}"}


@dataclass(frozen=True)
class NotificationRecord:
    """One notification as its recipient sees it."""

    id: str
    lead_id: str | None
    rule_id: str | None
    text: str
    created_at: datetime
    read_at: datetime | None


class NotificationQuery(PageQuery):
    """Filters of a user's notifications (newest first)."""

    unread: bool = False


async def notify_lead_agent(
    session: AsyncSession, *, lead: Lead, texts: dict[str, str], rule_id: str | None
) -> list[str]:
    """Write a notification about ``lead`` for its agent (or each active admin when it has
    none), each in the recipient's language; the e-mails of those it went to."""
    query = select(User).where(User.is_active.is_(True))
    if lead.assigned_agent_id is not None:
        query = query.where(User.id == lead.assigned_agent_id)
    else:
        query = query.where(User.role == Role.ADMIN)
    recipients = list(await session.scalars(query.order_by(User.email)))
    if not recipients and lead.assigned_agent_id is not None:  # a disabled agent: the admins
        admins = select(User).where(User.is_active.is_(True), User.role == Role.ADMIN)
        recipients = list(await session.scalars(admins.order_by(User.email)))
    now = utcnow()
    for user in recipients:
        language = Language.EN if user.language == Language.EN else Language.HE
        text = texts.get(language) or next(iter(texts.values()))
        session.add(
            Notification(
                id=new_id(),
                user_id=user.id,
                lead_id=lead.id,
                rule_id=rule_id,
                text=text,
                created_at=now,
            )
        )
    await session.flush()
    return [user.email for user in recipients]


def _record(row: Notification) -> NotificationRecord:
    return NotificationRecord(
        id=row.id,
        lead_id=row.lead_id,
        rule_id=row.rule_id,
        text=row.text,
        created_at=row.created_at,
        read_at=row.read_at,
    )


def _mine(actor: Actor) -> str:
    if actor.user_id is None:
        raise NotFound("only users have notifications")
    return actor.user_id


async def list_notifications(
    db: Database, *, actor: Actor, query: NotificationQuery
) -> Page[NotificationRecord]:
    """The actor's own notifications, newest first (``unread``: only those not read)."""
    user_id = _mine(actor)
    statement = select(Notification).where(Notification.user_id == user_id)
    if query.unread:
        statement = statement.where(Notification.read_at.is_(None))
    if query.cursor:
        statement = statement.where(Notification.id < decode_cursor(query.cursor))
    statement = statement.order_by(Notification.id.desc()).limit(query.limit + 1)
    async with db.reading() as session:
        rows = list(await session.scalars(statement))
    items = [_record(row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more and items else None)


def unread_of(user_id: str | ColumnElement[str] | InstrumentedAttribute[str]) -> ScalarSelect[int]:
    """How many of a user's notifications are unread, as a scalar subquery (``user_id``: a
    value, or a column of the query it goes into: the header's count, read with the
    session's look-up, :func:`ovenai.sessions.resolve`)."""
    return (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )


async def unread_count(db: Database, *, user_id: str) -> int:
    """How many of a user's notifications are unread."""
    async with db.reading() as session:
        count = await session.scalar(select(unread_of(user_id)))
    return int(count or 0)


async def mark_read(db: Database, *, actor: Actor, notification_id: str | None = None) -> int:
    """Mark one of the actor's notifications read (NotFound if it is not theirs), or all of
    them when no id is given; how many changed."""
    user_id = _mine(actor)
    statement = (
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    async with db.session() as session:
        if notification_id is not None:
            owner = await session.scalar(
                select(Notification.user_id).where(Notification.id == notification_id)
            )
            if owner != user_id:
                raise NotFound(f"no notification {notification_id}")
            statement = statement.where(Notification.id == notification_id)
        result = await session.execute(statement)
        await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def email_notifier(settings: Settings) -> EmailNotifier | None:
    """The SMTP notifier of the settings, or None when SMTP is not configured."""
    if not settings.smtp_host:
        return None
    password = settings.smtp_password
    return EmailNotifier(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        user=settings.smtp_user,
        password=None if password is None else password.get_secret_value(),
        starttls=settings.smtp_starttls,
    )


async def email_pending(db: Database, settings: Settings) -> int:
    """E-mail the notifications not yet e-mailed to their recipients; how many were sent.
    Without SMTP, they are marked ``none`` (nothing is sent later when SMTP is added: an
    e-mail about an old event is noise)."""
    notifier = email_notifier(settings)
    async with db.session() as session:
        rows = (
            await session.execute(
                select(Notification, User.email, User.language)
                .join(User, User.id == Notification.user_id)
                .where(Notification.email_state.is_(None))
                .order_by(Notification.created_at)
                .limit(EMAIL_BATCH)
            )
        ).all()
        if notifier is None:
            for row, _email, _language in rows:
                row.email_state = "none"
            await session.commit()
            return 0
    sent = 0
    for row, email, language in rows:
        lang = "en" if language == Language.EN else "he"
        lines = [row.text]
        if row.lead_id:
            lines.append(LINK_LINE[lang].format(lead=row.lead_id))
        try:
            await notifier.send(email, SUBJECTS[lang], "\n".join(lines))
            state = "sent"
            sent += 1
        except NotifierError as exc:
            log.warning("notification e-mail failed: %s", exc.reason)
            state = "failed"
        async with db.session() as session:
            await session.execute(
                update(Notification).where(Notification.id == row.id).values(email_state=state)
            )
            await session.commit()
    return sent


@scheduler.every("notifications.email", seconds=30)
async def email_job(ctx: scheduler.JobContext) -> None:
    """The worker's job: e-mail new notifications when SMTP is configured."""
    await email_pending(ctx.db, ctx.settings)
