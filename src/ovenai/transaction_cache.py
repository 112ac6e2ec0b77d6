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

:func:`on_commit` is the other way round: work that must happen only when the transaction's
rows are in the database (counting them in a metric), not when they are written — a
savepoint rolled back, or a batch applied again a body at a time, would count them twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

T = TypeVar("T")
_KEY = "transaction_cache"
_ON_COMMIT = "transaction_on_commit"


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


def on_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Call ``action`` once the session's transaction commits; never if what is written now
    is rolled back (the savepoint it was written in, or the whole transaction)."""
    sync = session.sync_session
    pending: list[tuple[SessionTransaction, Callable[[], None]]] | None = sync.info.get(_ON_COMMIT)
    if pending is None:
        pending = sync.info[_ON_COMMIT] = []
        event.listen(sync, "after_commit", _committed)
        event.listen(sync, "after_soft_rollback", _rolled_back)
    written_in = sync.get_nested_transaction() or sync.get_transaction()
    if written_in is None:  # autobegin has not begun one yet: the next is where it lands
        written_in = sync.begin()
    pending.append((written_in, action))


def _committed(sync: Session) -> None:
    if sync.in_nested_transaction():
        return  # a savepoint released: its work now stands or falls with its parent's
    pending = sync.info.get(_ON_COMMIT, [])
    done, pending[:] = list(pending), []
    for _, action in done:
        action()


def _rolled_back(sync: Session, previous: SessionTransaction) -> None:
    pending = sync.info.get(_ON_COMMIT, [])
    pending[:] = [item for item in pending if not _within(item[0], previous)]


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False
