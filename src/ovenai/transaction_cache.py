"""Values read once a transaction: what every message of a batch would otherwise read again.

The webhook processor applies a batch of messages in one transaction and calls the inbound
hooks for each (:mod:`ovenai.hooks`); what a hook reads that does not depend on the message
(the enabled automation rules, the towns of the agency's listings) is the same for all of
them. :func:`per_transaction` reads it the first time and hands the same value to every later
call in that transaction; the next transaction of the session reads it afresh. So a value is
as fresh as the transaction's first read of it: a change committed by another transaction
meanwhile is seen from the next transaction on (the batch after), which is what reading it
again at each message would give at best on PostgreSQL's READ COMMITTED anyway, give or take
the milliseconds of one batch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")
_KEY = "transaction_cache"


async def per_transaction(
    session: AsyncSession, name: str, read: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    """``read(session)``'s value, read once in the session's current transaction."""
    transaction = session.sync_session.get_transaction()
    held: dict[str, tuple[Any, Any]] = session.info.setdefault(_KEY, {})
    found = held.get(name)
    if transaction is not None and found is not None and found[0] is transaction:
        return cast(T, found[1])
    value = await read(session)
    held[name] = (session.sync_session.get_transaction(), value)
    return value
