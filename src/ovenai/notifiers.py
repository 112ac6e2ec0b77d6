"""Notifiers: alerts told by e-mail (SMTP) and Slack (an incoming webhook).

The evaluator (:mod:`ovenai.alert_rules`) calls :func:`queue_notifications` inside its
transaction: it writes one ``alert_deliveries`` row per recipient for each alert that fired
(once), is due a repeat (at most every ``OVENAI_ALERT_REPEAT_MINUTES``) or was resolved.
The worker's delivery job (:func:`deliver_due`) sends them outside any transaction; a send
that fails is retried with backoff (``RETRY_BASE_S`` doubling, ``MAX_ATTEMPTS`` in all),
and a channel failing ``FAILING_AFTER`` times in a row raises an alert of its own
(``notifier_email`` / ``notifier_slack``), told through the other channel and the
dashboard, and resolved by the channel's next success.

Each recipient reads Hebrew or English: a user's own language when the address is a
user's, otherwise ``OVENAI_ALERT_LANGUAGE`` (which Slack uses too). Errors are recorded by
their kind only: an HTTP library's message may quote the Slack URL, which is a secret.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

import aiohttp
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai.alerts import Said, raise_alert, resolve_alerts
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.metrics import ALERT_NOTIFICATIONS
from ovenai.models import Alert, User
from ovenai.models.operations import AlertDelivery
from ovenai.settings import Settings

log = logging.getLogger("ovenai.notifiers")

SEND_TIMEOUT_S = 10.0  # one SMTP conversation or Slack post; the job's lease is 60 s
BATCH = 20  # deliveries sent per run of the job (every 10 s)
RETRY_BASE_S = 30.0  # first retry after 30 s, then 60, 120 ... capped at RETRY_CAP_S
RETRY_CAP_S = 1800.0
MAX_ATTEMPTS = 8  # about an hour and a half of trying, then the delivery is failed
FAILING_AFTER = 2  # failures in a row on a channel before it raises its own alert
EVENTS = ("fired", "repeat", "resolved")
SEVERITY_TITLES = {
    "en": {"info": "Info", "warning": "Warning", "critical": "Critical"},
    "he": {"info": "מידע", "warning": "אזהרה", "critical": "קריטי"},
}
EVENT_TITLES = {
    "en": {"fired": "Alert", "repeat": "Still open", "resolved": "Resolved", "test": "Test"},
    "he": {"fired": "התראה", "repeat": "עדיין פתוחה", "resolved": "נפתרה", "test": "בדיקה"},
}
# What each kind is called; a kind not listed (templates, account events) is told by its
# own message. The message itself (figures, commands) is written in English.
KIND_TITLES = {
    "outbound_failure_rate": (
        "Outbound failure rate above threshold",
        "שיעור כישלונות גבוה בשליחה",
    ),
    "whatsapp_access_token": ("Sending paused: access token rejected", "השליחה מושהית: הטוקן נדחה"),
    "outbox_stuck": ("Outbox stuck", "תור השליחה תקוע"),
    "key_rotation_due": ("Master key rotation due", "הגיע מועד החלפת מפתח ההצפנה"),
    "key_rotation_overdue": ("Master key rotation overdue", "החלפת מפתח ההצפנה באיחור"),
    "privacy_request_due": ("Data-subject request near its deadline", "בקשת פרטיות קרובה למועד"),
    "privacy_request_overdue": ("Data-subject request overdue", "בקשת פרטיות באיחור"),
    "retention_not_run": ("Retention has not run", "מדיניות השמירה לא רצה"),
    "graph_api": ("Meta's Graph API check failed", "הבדיקה מול שרתי Meta נכשלה"),
    "templates_not_approved": ("Templates not usable", "תבניות שאינן זמינות לשליחה"),
    "first_response_sla": ("Leads waiting for an answer", "לידים ממתינים למענה"),
    "delivery_rate": ("Delivery rate below threshold", "שיעור המסירה נמוך מהסף"),
    "graph_api_slow": ("Meta's Graph API is slow", "ה-Graph API של Meta איטי"),
    "webhook_silence": (
        "WhatsApp webhooks are not arriving",
        "הודעות הוובהוק של וואטסאפ לא מגיעות",
    ),
    "notifier_email": ("E-mail alerts failing", "שליחת התראות בדוא״ל נכשלת"),
    "notifier_slack": ("Slack alerts failing", "שליחת התראות ל-Slack נכשלת"),
}


class NotifierError(Exception):
    """A notification could not be sent; ``reason`` names the kind of failure only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Notifier(Protocol):
    """A channel that sends one notification to one recipient."""

    @property
    def channel(self) -> str: ...

    async def send(self, recipient: str, subject: str, text: str) -> None: ...


@dataclass(frozen=True)
class EmailNotifier:
    """SMTP with the standard library, in a thread (smtplib blocks)."""

    host: str
    port: int
    sender: str
    user: str | None
    password: str | None
    starttls: bool
    channel: str = "email"

    async def send(
        self, recipient: str, subject: str, text: str, *, html: str | None = None
    ) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = recipient
        message["Subject"] = subject
        message.set_content(text)
        if html is not None:  # the same content for mail readers that show HTML
            message.add_alternative(html, subtype="html")
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifierError(f"SMTP: {type(exc).__name__}") from None

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=SEND_TIMEOUT_S) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)


@dataclass(frozen=True)
class SlackNotifier:
    """A Slack incoming webhook: one JSON post of the text."""

    url: str
    channel: str = "slack"

    async def send(self, recipient: str, subject: str, text: str) -> None:
        timeout = aiohttp.ClientTimeout(total=SEND_TIMEOUT_S)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.post(self.url, json={"text": f"*{subject}*\n{text}"}) as answer,
            ):
                if answer.status >= 300:
                    raise NotifierError(f"Slack answered HTTP {answer.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise NotifierError(f"Slack: {type(exc).__name__}") from None


def configured(settings: Settings) -> dict[str, Notifier]:
    """The notifiers the settings configure, by channel."""
    found: dict[str, Notifier] = {}
    if settings.smtp_host and settings.alert_email_list:
        password = settings.smtp_password
        found["email"] = EmailNotifier(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user,
            password=None if password is None else password.get_secret_value(),
            starttls=settings.smtp_starttls,
        )
    if settings.slack_webhook_url is not None:
        found["slack"] = SlackNotifier(settings.slack_webhook_url.get_secret_value())
    return found


def compose(
    *, kind: str, severity: str, message: str, event: str, language: str, at: datetime
) -> tuple[str, str]:
    """The subject and text of one notification in ``language`` (he or en)."""
    lang = language if language in EVENT_TITLES else "he"
    titles = KIND_TITLES.get(kind)
    title = (titles[0] if lang == "en" else titles[1]) if titles else kind
    subject = f"[OvenAI] {EVENT_TITLES[lang][event]}: {title}"
    severity_title = SEVERITY_TITLES[lang].get(severity, severity)
    if lang == "en":
        lines = [f"{severity_title} · {kind} · {at.isoformat(timespec='seconds')}", message]
        if event == "resolved":
            lines.append("This alert has ended.")
        lines.append("Open alerts: /admin/alerts")
    else:
        lines = [f"{severity_title} · {kind} · {at.isoformat(timespec='seconds')}", message]
        if event == "resolved":
            lines.append("ההתראה הסתיימה.")
        lines.append("התראות פתוחות: /admin/alerts")
    return subject, "\n".join(lines)


async def recipients(session: AsyncSession, settings: Settings) -> list[tuple[str, str]]:
    """(address, language) of each alert address: a user's own language, else the setting."""
    addresses = settings.alert_email_list
    if not addresses:
        return []
    lowered = [address.lower() for address in addresses]
    query = select(func.lower(User.email), User.language).where(func.lower(User.email).in_(lowered))
    languages = {email: language for email, language in (await session.execute(query)).all()}
    return [(a, languages.get(a.lower(), settings.alert_language)) for a in addresses]


def _queue(
    session: AsyncSession,
    alert: Alert,
    event: str,
    channels: dict[str, Notifier],
    recipients: list[tuple[str, str]],
    settings: Settings,
    now: datetime,
) -> int:
    """Add the deliveries of one event of one alert; a failing channel is not told of itself."""
    rows: list[AlertDelivery] = []
    for channel in channels:
        if alert.kind == f"notifier_{channel}":
            continue
        targets = recipients if channel == "email" else [("", settings.alert_language)]
        for address, language in targets:
            rows.append(
                AlertDelivery(
                    alert_id=alert.id,
                    event=event,
                    channel=channel,
                    recipient=address,
                    language=language,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    session.add_all(rows)
    return len(rows)


async def queue_notifications(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Queue "fired", "repeat" and "resolved" for every alert due one; how many rows."""
    repeat_before = now - timedelta(minutes=settings.alert_repeat_minutes)
    query = select(Alert).where(
        or_(
            Alert.resolved_at.is_(None) & Alert.notified_at.is_(None),
            Alert.resolved_at.is_(None) & (Alert.notified_at <= repeat_before),
            Alert.resolved_at.is_not(None)
            & Alert.notified_at.is_not(None)
            & Alert.resolved_notified_at.is_(None),
        )
    )
    alerts = list(await session.scalars(query))
    if not alerts:
        return 0
    channels = configured(settings)
    addresses = await recipients(session, settings)
    queued = 0
    for alert in alerts:
        if alert.resolved_at is not None:
            event = "resolved"
            alert.resolved_notified_at = now
        else:
            event = "fired" if alert.notified_at is None else "repeat"
            alert.notified_at = now
        queued += _queue(session, alert, event, channels, addresses, settings, now)
    return queued


@dataclass(frozen=True)
class _Due:
    id: str
    channel: str
    recipient: str
    subject: str
    text: str


@dataclass(frozen=True)
class DeliveryReport:
    """What one run of the delivery job did."""

    sent: int
    retrying: int
    failed: int


async def deliver_due(db: Database, settings: Settings) -> DeliveryReport:
    """Send the deliveries that are due, outside any transaction, and record each outcome."""
    now = utcnow()
    channels = configured(settings)
    async with db.session() as session:
        query = (
            select(AlertDelivery, Alert)
            .join(Alert, Alert.id == AlertDelivery.alert_id)
            .where(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= now)
            .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
            .limit(BATCH)
        )
        due = [
            _Due(
                row.id,
                row.channel,
                row.recipient,
                *compose(
                    kind=alert.kind,
                    severity=alert.severity,
                    message=(
                        alert.message_he
                        if row.language == "he" and alert.message_he
                        else alert.message
                    ),
                    event=row.event,
                    language=row.language,
                    at=alert.at,
                ),
            )
            for row, alert in (await session.execute(query)).all()
        ]
    outcomes: dict[str, str | None] = {}
    for item in due:
        notifier = channels.get(item.channel)
        if notifier is None:
            outcomes[item.id] = "the channel is no longer configured"
            continue
        try:
            await notifier.send(item.recipient, item.subject, item.text)
        except NotifierError as exc:
            log.warning("alert notification by %s failed: %s", item.channel, exc.reason)
            outcomes[item.id] = exc.reason
        else:
            outcomes[item.id] = None
    return await _record(db, due, outcomes)


async def _record(db: Database, due: list[_Due], outcomes: dict[str, str | None]) -> DeliveryReport:
    now = utcnow()
    sent = retrying = failed = 0
    channel_ok: dict[str, bool] = {}
    async with db.session() as session:
        for item in due:
            row = await session.get(AlertDelivery, item.id)
            if row is None:  # its alert was deleted meanwhile
                continue
            error = outcomes[item.id]
            row.attempts += 1
            if error is None:
                row.status, row.sent_at, row.last_error = "sent", now, None
                sent += 1
                channel_ok[item.channel] = True
                ALERT_NOTIFICATIONS.labels(channel=item.channel, outcome="sent").inc()
                continue
            row.last_error = error[:300]
            channel_ok.setdefault(item.channel, False)
            if row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
                failed += 1
                ALERT_NOTIFICATIONS.labels(channel=item.channel, outcome="failed").inc()
            else:
                ALERT_NOTIFICATIONS.labels(channel=item.channel, outcome="retry").inc()
                delay = min(RETRY_BASE_S * 2 ** (row.attempts - 1), RETRY_CAP_S)
                row.next_attempt_at = now + timedelta(seconds=delay)
                retrying += 1
        for channel, ok in channel_ok.items():
            kind = f"notifier_{channel}"
            if ok:
                await resolve_alerts(session, kind=kind)
            elif await _failing(session, channel):
                said = Said(
                    f"Alert notifications by {channel} fail repeatedly; they are retried "
                    "with backoff. Check the OVENAI_SMTP_* / OVENAI_SLACK_* settings.",
                    f"התראות דרך {channel} נכשלות שוב ושוב; הן נשלחות שוב בהמתנה הולכת "
                    "וגדלה. יש לבדוק את ההגדרות OVENAI_SMTP_* / OVENAI_SLACK_*.",
                )
                await raise_alert(session, kind=kind, severity="warning", said=said)
        await session.commit()
    return DeliveryReport(sent, retrying, failed)


async def _failing(session: AsyncSession, channel: str) -> bool:
    """Whether a delivery of the channel not yet sent has failed ``FAILING_AFTER`` times."""
    query = select(func.count()).where(
        AlertDelivery.channel == channel,
        AlertDelivery.status != "sent",
        AlertDelivery.last_error.is_not(None),
        AlertDelivery.attempts >= FAILING_AFTER,
    )
    return bool(await session.scalar(query))


async def send_test(settings: Settings) -> dict[str, str | None]:
    """Send a test notification through each configured notifier; each channel's error."""
    results: dict[str, str | None] = {}
    now = utcnow()
    for channel, notifier in configured(settings).items():
        targets = settings.alert_email_list if channel == "email" else [""]
        subject, text = compose(
            kind="test",
            severity="info",
            message="A test notification from `ovenai alerts test`.",
            event="test",
            language=settings.alert_language,
            at=now,
        )
        results[channel] = None
        for address in targets:
            try:
                await notifier.send(address, subject, text)
            except NotifierError as exc:
                results[channel] = exc.reason
    return results
