"""Are Meta's webhooks reaching us? A signed test body through the public front door.

A quiet night and a broken webhook look the same from inside: no bodies arrive. So a
worker (the timed job ``webhooks.probe``, every :data:`EVERY_S`) signs a small body with
the app secret, exactly as Meta does, and posts it to the public webhook URL
(``OVENAI_WEBHOOK_PROBE_URL``, else the webhook path under ``OVENAI_PUBLIC_URL``: the address
configured in Meta's App Dashboard, through the same DNS, TLS and proxy). The body goes the
whole way: checked, stored, acknowledged, applied by a worker, which records that it arrived
(:func:`record_seen`). The alert rule ``webhook_silence`` fires when the newest probe was
refused or was not applied within :data:`GRACE_S`, and resolves on the next probe that
makes it.

The probe body is a WhatsApp Business Account change of the field :data:`FIELD`, which
Meta never sends: it carries a random nonce and the time, no personal data. It is stored
like every body (and pruned like them by the retention job).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects
from ovenai.alerts import Said
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.models import SystemFlag
from ovenai.settings import Settings

log = logging.getLogger("ovenai.webhook_probe")

FIELD = "ovenai_probe"
SENT_FLAG = "webhook_probe_sent"
SEEN_FLAG = "webhook_probe_seen"
EVERY_S = 300.0
GRACE_S = 120.0  # a probe not applied two minutes after its 200 did not make it
TIMEOUT_S = 10.0
_REASON_CHARS = 200


@dataclass(frozen=True)
class Sent:
    """One probe posted: when, its nonce, and what the front door answered."""

    nonce: str
    sent_at: datetime
    status: int | None  # the HTTP status; None when no answer came at all
    reason: str = ""  # why it did not get a 200 (never a secret)
    before: str = ""  # the problem the probe before it showed when this one left
    before_he: str = ""  # the same in Hebrew

    @property
    def accepted(self) -> bool:
        """Whether the webhook answered 200, as it does to Meta."""
        return self.status == 200


@dataclass(frozen=True)
class Seen:
    """The newest probe a worker applied."""

    nonce: str
    seen_at: datetime


def body(waba_id: str, nonce: str, at: datetime) -> bytes:
    """The probe's body: one change of :data:`FIELD` for the business account."""
    change = {"field": FIELD, "value": {"nonce": nonce, "sent_at": at.isoformat()}}
    entry = {"id": waba_id, "time": int(at.timestamp()), "changes": [change]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def signature(raw: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` header Meta would send with ``raw``."""
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()


def target(settings: Settings) -> str | None:
    """Where the probe goes: ``OVENAI_WEBHOOK_PROBE_URL``, else the webhook path under
    ``OVENAI_PUBLIC_URL`` (the address Meta is given); None when neither is set."""
    if settings.webhook_probe_url:
        return settings.webhook_probe_url
    if settings.public_url:
        return settings.public_url.rstrip("/") + WEBHOOK_PATH
    return None


def configured(settings: Settings) -> bool:
    """Whether a probe can be sent: a URL to post to and the secret to sign with."""
    return bool(target(settings) and settings.whatsapp_app_secret)


async def send(db: Database, settings: Settings, *, client: httpx.AsyncClient) -> Sent:
    """Post one signed probe to the public webhook URL and record what happened."""
    url = target(settings)
    if url is None or settings.whatsapp_app_secret is None:
        raise ValueError(
            "the webhook probe needs OVENAI_WEBHOOK_PROBE_URL (or OVENAI_PUBLIC_URL) and the "
            "app secret"
        )
    nonce = secrets.token_hex(8)
    now = utcnow()
    async with db.session() as session:
        earlier = problem(*await newest(session), now)
    before, before_he = (earlier.en, earlier.he) if earlier else ("", "")
    raw = body(settings.whatsapp_business_account_id or "0", nonce, now)
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature(raw, settings.whatsapp_app_secret.get_secret_value()),
        "User-Agent": "OvenAI-webhook-probe",
    }
    try:
        answer = await client.post(url, content=raw, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        why = f"{type(exc).__name__}: {exc}"[:_REASON_CHARS]
        sent = Sent(nonce, now, None, why, before, before_he)
    else:
        reason = "" if answer.status_code == 200 else answer.text[:_REASON_CHARS]
        sent = Sent(nonce, now, answer.status_code, reason, before, before_he)
    async with db.session() as session:
        await _put(session, SENT_FLAG, _to_json(sent), now)
        await session.commit()
    if not sent.accepted:
        log.warning("the webhook probe was not accepted: %s %s", sent.status, sent.reason)
    return sent


async def record_seen(session: AsyncSession, value_json: str) -> None:
    """Note that a probe came all the way through (called when its body is applied)."""
    try:
        nonce = str(json.loads(value_json)["nonce"])
    except (ValueError, KeyError, TypeError):
        log.warning("a webhook probe body without its nonce was ignored")
        return
    now = utcnow()
    await _put(session, SEEN_FLAG, _to_json(Seen(nonce, now)), now)


async def newest(session: AsyncSession) -> tuple[Sent | None, Seen | None]:
    """The newest probe sent and the newest one applied (None: none yet)."""
    sent = await session.get(SystemFlag, SENT_FLAG)
    seen = await session.get(SystemFlag, SEEN_FLAG)
    return (
        None if sent is None else _sent(json.loads(sent.value)),
        None
        if seen is None
        else Seen(str(json.loads(seen.value)["nonce"]), _at(seen.value, "seen_at")),
    )


def problem(sent: Sent | None, seen: Seen | None, now: datetime) -> Said | None:
    """Why webhooks look broken, from the newest probes; None when they arrive (or no news).

    A probe still within :data:`GRACE_S` of its 200 is on its way: what the probe before
    it showed decides meanwhile, so an open alert does not flap closed each time a new
    probe leaves.
    """
    if sent is None:
        return None
    at = f"{sent.sent_at:%H:%M}"
    if not sent.accepted:
        answer = f"HTTP {sent.status}" if sent.status is not None else None
        reason = f": {sent.reason}" if sent.reason else ""  # the answer's own words
        return Said(
            f"The webhook test body posted at {at} UTC got {answer or 'no answer'}{reason}. "
            "Meta's webhooks are probably refused too: check the public URL, the proxy and "
            "WHATSAPP_APP_SECRET.",
            f"גוף הבדיקה שנשלח ל-webhook בשעה {at} UTC קיבל {answer or 'אין תשובה'}{reason}. "
            "כנראה שגם ה-webhooks של Meta נדחים: יש לבדוק את הכתובת הציבורית, את ה-proxy ואת "
            "WHATSAPP_APP_SECRET.",
        )
    if seen is not None and seen.nonce == sent.nonce:
        return None
    if (now - sent.sent_at).total_seconds() < GRACE_S:
        # on its way: the one before it decides meanwhile
        return Said(sent.before, sent.before_he or sent.before) if sent.before else None
    minutes = f"{GRACE_S / 60:.0f}"
    if seen is None:
        return Said(
            f"The webhook test body accepted at {at} UTC was not applied within {minutes} "
            "minutes: bodies are stored but not applied. Is a worker running?",
            f"גוף הבדיקה שהתקבל ב-webhook בשעה {at} UTC לא עובד תוך {minutes} דקות: "
            "גופי webhook נשמרים אך אינם מעובדים. האם worker פועל?",
        )
    return Said(
        f"No webhook test body has been applied since {seen.seen_at:%H:%M} UTC (the newest "
        f"was accepted at {at} UTC): bodies are stored but not applied. Is a worker running?",
        f"אף גוף בדיקה של webhook לא עובד מאז {seen.seen_at:%H:%M} UTC (האחרון התקבל בשעה "
        f"{at} UTC): גופי webhook נשמרים אך אינם מעובדים. האם worker פועל?",
    )


async def _put(session: AsyncSession, name: str, value: str, at: datetime) -> None:
    statement = dialects.insert(session, SystemFlag).values(name=name, value=value, updated_at=at)
    statement = statement.on_conflict_do_update(
        index_elements=[SystemFlag.name], set_={"value": value, "updated_at": at}
    )
    await session.execute(statement)


def _to_json(record: Sent | Seen) -> str:
    values = asdict(record)
    at = "sent_at" if isinstance(record, Sent) else "seen_at"
    return json.dumps(values | {at: values[at].isoformat()})


def _sent(values: dict[str, Any]) -> Sent:
    status = values.get("status")
    return Sent(
        nonce=str(values["nonce"]),
        sent_at=datetime.fromisoformat(values["sent_at"]),
        status=None if status is None else int(status),
        reason=str(values.get("reason", "")),
        before=str(values.get("before", "")),
        before_he=str(values.get("before_he", "")),
    )


def _at(value: str, name: str) -> datetime:
    return datetime.fromisoformat(json.loads(value)[name])
