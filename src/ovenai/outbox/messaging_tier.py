"""The messaging-limit tier: unique users reached by business-initiated messages in 24 hours.

Meta limits how many unique users a business portfolio may reach outside a customer service
window in a rolling 24 hours ("WhatsApp Business Platform › Messaging limits"). Each user
reached is a ``reached_users`` row, keyed by portfolio, sending number and lead; the count is
per portfolio, a user reached from two of its numbers counting once. A user reached in the
window costs nothing again; a new one takes a place while places are left.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, distinct, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects
from ovenai.models import ReachedUser

REACH_WINDOW = timedelta(hours=24)  # Meta's rolling window for the tier
# A message the tier holds is due again no sooner than this, even when a place frees sooner,
# so it does not come straight back to be claimed and held again. No reason for exactly 1 s
# is recorded.
MIN_TIER_WAIT_S = 1.0
# PostgreSQL: one transaction-scoped advisory lock per portfolio, so concurrent workers never
# hand out the same place twice. SQLite needs none: every session already holds its write
# lock (BEGIN IMMEDIATE, see ovenai.engines).
_LOCK_PORTFOLIO = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


async def reach_allowance(
    session: AsyncSession,
    *,
    portfolio: str,
    phone_number_id: str,
    lead_ids: Sequence[str],
    limit: int | None,
) -> tuple[set[str], float]:
    """Which leads may get a business-initiated message now under the messaging-limit tier.

    Places are recorded at once (inside the caller's transaction, under the portfolio's
    lock), so concurrent workers never overrun the tier together. Returns the allowed leads
    and, when some were held back, seconds until a place frees.
    """
    if limit is None or not lead_ids:
        return set(lead_ids), 0.0
    now = datetime.now(UTC)
    await _lock_portfolio(session, portfolio)
    recent = await _recent_reach(session, portfolio, now)
    fresh = [lead for lead in dict.fromkeys(lead_ids) if lead not in recent]
    admitted = fresh[: max(0, limit - len(recent))]
    await _record_reach(session, portfolio, phone_number_id, admitted, now)
    allowed = {lead for lead in lead_ids if lead in recent} | set(admitted)
    if len(admitted) == len(fresh):
        return allowed, 0.0
    oldest = min(recent.values(), default=now)
    return allowed, max(MIN_TIER_WAIT_S, (oldest + REACH_WINDOW - now).total_seconds())


async def reached_count(session: AsyncSession, *, portfolio: str) -> int:
    """Unique users reached outside a service window in the last 24 hours."""
    since = datetime.now(UTC) - REACH_WINDOW
    query = select(func.count(distinct(ReachedUser.lead_id))).where(
        ReachedUser.portfolio == portfolio, ReachedUser.reached_at > since
    )
    return int(await session.scalar(query) or 0)


async def prune(session: AsyncSession) -> int:
    """Drop reach records older than the rolling 24 hours; how many went."""
    since = datetime.now(UTC) - REACH_WINDOW
    statement = delete(ReachedUser).where(ReachedUser.reached_at < since)
    return dialects.rowcount(await session.execute(statement))


async def _lock_portfolio(session: AsyncSession, portfolio: str) -> None:
    if dialects.is_postgresql(session):
        await session.execute(_LOCK_PORTFOLIO, {"key": f"ovenai.tier:{portfolio}"})


async def _recent_reach(
    session: AsyncSession, portfolio: str, now: datetime
) -> dict[str, datetime]:
    """Each lead reached in the window, with when its place frees (its latest reach)."""
    query = (
        select(ReachedUser.lead_id, func.max(ReachedUser.reached_at))
        .where(ReachedUser.portfolio == portfolio, ReachedUser.reached_at > now - REACH_WINDOW)
        .group_by(ReachedUser.lead_id)
    )
    return {lead: at for lead, at in await session.execute(query)}


async def _record_reach(
    session: AsyncSession,
    portfolio: str,
    phone_number_id: str,
    lead_ids: Sequence[str],
    now: datetime,
) -> None:
    if not lead_ids:
        return
    key = {"portfolio": portfolio, "phone_number_id": phone_number_id}
    rows = [key | {"lead_id": lead, "reached_at": now} for lead in lead_ids]
    statement = dialects.insert(session, ReachedUser).values(rows)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["portfolio", "phone_number_id", "lead_id"],
            set_={"reached_at": statement.excluded.reached_at},
        )
    )
