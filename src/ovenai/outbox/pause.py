"""Pausing all sending after Meta rejected the access token, and resuming it.

An invalid token (190 and the other ``AUTH`` codes, see :mod:`ovenai.outbox.retry`) fails
every send alike, so the first worker that meets one sets the ``sending_paused`` flag and
raises one critical alert; every worker stops claiming and queued messages wait.
``ovenai sending resume`` (once the token is fixed) or a worker started with a different
token lifts it. Each worker keeps a :class:`PauseCache` so that it need not ask the
database before every claim.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import delete, select

from ovenai import dialects
from ovenai.alerts import Said, raise_alert, resolve_alerts
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import SystemFlag

PAUSE_FLAG = "sending_paused"
TOKEN_ALERT = "whatsapp_access_token"
# How long a worker trusts "not paused" before asking the database again: another worker's
# pause reaches it within this (its own 190 answers pause it at once).
PAUSE_CHECK_S = 1.0
# How long a worker that knows sending is paused waits before asking the database again: a
# `sending resume` reaches it within this. No reason for 2 s rather than PAUSE_CHECK_S is
# recorded; a paused worker asks half as often.
PAUSE_RECHECK_S = 2.0
# How far back a message that meets the pause (or a stopping worker) is put: it is due again
# once every worker has had PAUSE_CHECK_S to see the pause, so none retries it with the
# rejected token meanwhile. The value equals PAUSE_CHECK_S; no other reason is recorded.
PAUSED_HOLD_S = 1.0
_REASON_CHARS = 300  # the flag keeps the start of Meta's message, as alerts do


def token_fingerprint(token: str) -> str:
    """A short, irreversible name for an access token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass
class PauseCache:
    """One worker's view of the pause, asking the database at most every ``PAUSE_CHECK_S``.

    Times are the event loop's clock: until ``paused_until`` the worker holds its sends
    without asking; until ``unpaused_until`` it trusts "not paused".
    """

    db: Database
    token_id: str = ""  # the fingerprint of the token this worker sends with
    paused_until: float = 0.0
    unpaused_until: float = 0.0

    def holds(self, now: float) -> bool:
        """Whether this worker knows, without asking, that sending is paused at ``now``."""
        return self.paused_until > now

    async def paused(self) -> bool:
        """Whether sending is paused (an invalid token was seen by any worker)."""
        now = asyncio.get_running_loop().time()
        if self.holds(now):
            return True
        if self.unpaused_until > now:
            return False
        async with self.db.session() as session:
            flag = await session.get(SystemFlag, PAUSE_FLAG)
        if flag is not None:
            self.paused_until = now + PAUSE_RECHECK_S
        else:
            self.unpaused_until = now + PAUSE_CHECK_S
        return flag is not None

    async def pause(self, *, code: int | None, reason: str) -> None:
        """Pause this worker at once and every other one through the database."""
        self.paused_until = asyncio.get_running_loop().time() + PAUSE_RECHECK_S
        await pause_sending(self.db, code=code, reason=reason, token=self.token_id)


async def pause_sending(db: Database, *, code: int | None, reason: str, token: str = "") -> None:
    """Pause every worker's sending and raise one critical alert."""
    value = json.dumps(
        {"code": code, "reason": reason[:_REASON_CHARS], "token": token, "at": _now_iso()}
    )
    async with db.session() as session:
        if await session.get(SystemFlag, PAUSE_FLAG) is None:
            session.add(SystemFlag(name=PAUSE_FLAG, value=value))
            said = Said(
                f"Meta rejected the access token (code {code}): all sending is paused; "
                "queued messages wait. Configure a valid WHATSAPP_ACCESS_TOKEN and restart "
                "the workers.",
                f"Meta דחתה את אסימון הגישה (קוד {code}): כל השליחה מושהית, וההודעות בתור "
                "ממתינות. יש להגדיר WHATSAPP_ACCESS_TOKEN תקף ולהפעיל מחדש את ה-workers.",
            )
            await raise_alert(session, kind=TOKEN_ALERT, severity="critical", said=said)
        await session.commit()


async def resume_sending(db: Database) -> bool:
    """Lift the pause and close its alert; whether sending was paused."""
    async with db.session() as session:
        result = await session.execute(delete(SystemFlag).where(SystemFlag.name == PAUSE_FLAG))
        await resolve_alerts(session, kind=TOKEN_ALERT)
        await session.commit()
    return dialects.rowcount(result) > 0


async def resume_if_new_token(db: Database, token: str) -> bool:
    """Lift a pause that another token caused (a worker started with a new token)."""
    async with db.session() as session:
        flag = await session.scalar(select(SystemFlag).where(SystemFlag.name == PAUSE_FLAG))
    if flag is None:
        return False
    paused_for = json.loads(flag.value).get("token", "")
    if paused_for and paused_for == token_fingerprint(token):
        return False
    return await resume_sending(db)


def _now_iso() -> str:
    return utcnow().isoformat()
