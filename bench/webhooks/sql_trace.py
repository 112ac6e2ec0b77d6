"""Wall time of a process's SQL statements and commits, by kind (the processor's, profiled).

py-spy sees CPU, not waiting: on PostgreSQL the processor waits for the server, and on
SQLite the statements run in aiosqlite's thread, where a sample does not say which
statement it is. This adds up, per statement kind (``INSERT messages``, ``SELECT leads``
...), the wall time from SQLAlchemy's ``before_cursor_execute`` to its
``after_cursor_execute``, and per session the time of ``commit`` (``before_commit`` to
``after_commit``: the final flush, if any, and the database's commit), and the key
store's loads and creations of data keys, and each batch of the processor as a whole.

Bench-only: attached by :mod:`bench.webhooks.serve` when ``BENCH_SQL_TRACE`` names a file,
written there as JSON when the process stops.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from ovenai.keystore import Vault

_FROM = re.compile(r"\bFROM\s+\"?(\w+)", re.I)


def statement_kind(sql: str) -> str:
    """``VERB table`` of a statement (``SELECT leads``, ``INSERT applied_items``)."""
    words = sql.split()
    if not words:
        return "?"
    verb = words[0].upper()
    if verb == "INSERT" and len(words) > 2:
        return f"INSERT {words[2].strip(chr(34))}"
    if verb == "UPDATE" and len(words) > 1:
        return f"UPDATE {words[1].strip(chr(34))}"
    if verb in ("SELECT", "DELETE"):
        found = _FROM.search(sql)
        return f"{verb} {found.group(1)}" if found else verb
    return verb


@dataclass
class Totals:
    """Counts and seconds by kind."""

    calls: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, kind: str, seconds: float) -> None:
        self.calls[kind] = self.calls.get(kind, 0) + 1
        self.seconds[kind] = self.seconds.get(kind, 0.0) + seconds


def attach(engine: AsyncEngine, vault: Vault) -> Totals:
    """Time every statement of ``engine`` and every session commit of this process, and the
    key store's loads and creations of data keys (``keys: load``, ``keys: create``: query,
    unwrap or wrap, and the key store's commit), by wrapping the vault's two methods."""
    totals = Totals()
    sync = engine.sync_engine
    for name in ("_load", "_create"):
        setattr(vault, name, _timed(totals, f"keys: {name[1:]}", getattr(vault, name)))
    _time_batches(totals)

    @event.listens_for(sync, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    @event.listens_for(sync, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info["bench_started"].pop()
        totals.add(statement_kind(statement), time.perf_counter() - started)

    @event.listens_for(Session, "before_commit")
    def _commit_starts(session: Session) -> None:
        session.info["bench_commit"] = time.perf_counter()

    @event.listens_for(Session, "after_commit")
    def _committed(session: Session) -> None:
        started = session.info.pop("bench_commit", None)
        if started is not None:
            totals.add("COMMIT", time.perf_counter() - started)

    return totals


def _timed(
    totals: Totals, kind: str, method: Callable[[str, list[str]], Awaitable[dict[str, bytes]]]
) -> Callable[[str, list[str]], Awaitable[dict[str, bytes]]]:
    async def timed(scope: str, key_ids: list[str]) -> dict[str, bytes]:
        started = time.perf_counter()
        try:
            return await method(scope, key_ids)
        finally:
            totals.add(kind, time.perf_counter() - started)

    return timed


def _time_batches(totals: Totals) -> None:
    """Time each batch as a whole (``batches``) and count its bodies (``bodies``)."""
    from ovenai.ingest.processor import Processor, Report

    process_batch = Processor.process_batch

    async def timed(self: Processor, report: Report | None = None) -> int:
        started = time.perf_counter()
        handled = await process_batch(self, report)
        if handled:
            totals.add("batches", time.perf_counter() - started)
            totals.calls["bodies"] = totals.calls.get("bodies", 0) + handled
        return handled

    Processor.process_batch = timed  # type: ignore[method-assign]


def write(totals: Totals, path: Path, wall_s: float) -> None:
    """Write the totals (and how long the process ran) as JSON."""
    document = {"wall_s": wall_s, "calls": totals.calls, "seconds": totals.seconds}
    path.write_text(json.dumps(document, indent=1, sort_keys=True))
