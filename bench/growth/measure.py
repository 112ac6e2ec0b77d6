"""The operations :mod:`bench.growth` times at each size, each a call of the service the API
or the worker calls, and the statements each one sent (for EXPLAIN of the slowest)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from bench.growth.subjects import ADMIN, AGENT, Subject, realise
from ovenai import conversations, inbox, kpis, leads, privacy, privacy_export, retention
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.inbox import InboxFilter, encode_cursor
from ovenai.lead_fields import LeadFilter
from ovenai.pagination import DEFAULT_LIMIT

ZONE = ZoneInfo("Asia/Jerusalem")
POLICY = retention.Policy(
    conversations=timedelta(days=730),
    webhook_logs=timedelta(days=365),
    audit=timedelta(days=730),
    lead_grace=timedelta(days=180),
)


@dataclass
class Statement:
    """One statement an operation sent, and how long the database took with it."""

    sql: str
    parameters: Any
    ms: float


@dataclass
class Timings:
    """An operation's runs (ms) and the statements of its slowest run."""

    runs: list[float] = field(default_factory=list)
    slowest: list[Statement] = field(default_factory=list)

    def p50(self) -> float:
        """The median run."""
        return statistics.median(self.runs)

    def p95(self) -> float:
        """The 95th percentile (nearest rank)."""
        ordered = sorted(self.runs)
        return ordered[max(0, round(0.95 * len(ordered)) - 1)]


class Recorder:
    """Keeps the statements the engine sends while :meth:`capture` is open."""

    def __init__(self, db: Database) -> None:
        self.current: list[Statement] | None = None
        engine = db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *args: Any) -> None:
        context = args[4]
        if context is not None:
            context._bench_started = time.perf_counter()

    def _after(self, *args: Any) -> None:
        _conn, _cursor, sql, params, context, _many = args
        if self.current is not None and context is not None:
            began = getattr(context, "_bench_started", time.perf_counter())
            self.current.append(Statement(sql, params, (time.perf_counter() - began) * 1000))

    @contextmanager
    def capture(self) -> Iterator[list[Statement]]:
        """The statements sent inside the block."""
        self.current = []
        try:
            yield self.current
        finally:
            self.current = None


async def timed(
    recorder: Recorder, runs: int, call: Callable[[int], Awaitable[object]], *, warm: bool = True
) -> Timings:
    """``call(run)`` ``runs`` times (after one run not counted when ``warm``)."""
    found = Timings()
    if warm:
        await call(-1)
    for run in range(runs):
        with recorder.capture() as statements:
            began = time.perf_counter()
            await call(run)
            took = (time.perf_counter() - began) * 1000
        if not found.runs or took > max(found.runs):
            found.slowest = list(statements)
        found.runs.append(took)
    return found


async def deep_cursor(db: Database) -> str:
    """The admin's inbox cursor halfway down (the leads after it made readable)."""
    async with db.reading() as session:
        visible = await session.scalar(text("SELECT count(*) FROM leads WHERE erased_at IS NULL"))
        row = (
            await session.execute(
                text(
                    "SELECT engagement_score, last_activity_at, id FROM leads"
                    " WHERE erased_at IS NULL ORDER BY last_activity_at DESC, id DESC"
                    " OFFSET :skip LIMIT 1"
                ),
                {"skip": int(visible or 0) // 2},
            )
        ).one()
        after = await session.scalars(
            text(
                "SELECT id FROM leads WHERE erased_at IS NULL AND"
                " (last_activity_at, id) < (:at, :id)"
                " ORDER BY last_activity_at DESC, id DESC LIMIT :n"
            ),
            {"at": row.last_activity_at, "id": row.id, "n": DEFAULT_LIMIT + 1},
        )
        await realise(db, list(after))
    return encode_cursor(row.engagement_score, row.last_activity_at, row.id)


async def first_pages(db: Database) -> None:
    """Make readable the leads the admin's and agent-1's first inbox pages show."""
    async with db.reading() as session:
        for who in ("true", "(assigned_agent_id = 'agent-1' OR assigned_agent_id IS NULL)"):
            shown = await session.scalars(
                text(
                    f"SELECT id FROM leads WHERE erased_at IS NULL AND {who}"
                    " ORDER BY last_activity_at DESC, id DESC LIMIT :n"
                ),
                {"n": DEFAULT_LIMIT + 1},
            )
            await realise(db, list(shown))


async def measure(
    db: Database,
    recorder: Recorder,
    subjects: list[Subject],
    runs: int,
    retention_runs: int,
    *,
    key_figures: bool = True,
) -> tuple[dict[str, Timings], dict[str, int]]:
    """Every operation at this size (the key-figure report only if ``key_figures``; the
    subjects erased at the end, each once); and what the retention job's first run
    deleted."""
    await first_pages(db)
    cursor = await deep_cursor(db)
    found: dict[str, Timings] = {}

    def subject(run: int) -> Subject:
        return subjects[run % len(subjects)]

    async def lookup(run: int) -> None:
        page = await leads.list_leads(db, actor=ADMIN, filters=LeadFilter(phone=subject(run).phone))
        assert [lead.id for lead in page.items] == [subject(run).id]

    async def inbox_first(_run: int) -> None:
        page = await inbox.list_inbox(db, actor=ADMIN, filters=InboxFilter())
        assert len(page.items) == DEFAULT_LIMIT

    async def inbox_agent(_run: int) -> None:
        await inbox.list_inbox(db, actor=AGENT, filters=InboxFilter())

    async def inbox_deep(_run: int) -> None:
        page = await inbox.list_inbox(db, actor=ADMIN, filters=InboxFilter(cursor=cursor))
        assert len(page.items) == DEFAULT_LIMIT

    async def conversation(run: int) -> None:
        found = await conversations.conversation(db, actor=ADMIN, lead_id=subject(run).id)
        assert len(found) >= 6

    async def export(run: int) -> None:
        await privacy_export.export(db, actor=ADMIN, fmt="json", phone=subject(run).phone)

    found["lookup by phone"] = await timed(recorder, runs, lookup)
    found["inbox, first page (admin)"] = await timed(recorder, runs, inbox_first)
    found["inbox, first page (agent)"] = await timed(recorder, runs, inbox_agent)
    found["inbox, deep keyset page"] = await timed(recorder, runs, inbox_deep)
    found["conversation"] = await timed(recorder, runs, conversation)
    found["export (JSON)"] = await timed(recorder, runs, export)
    for days in (1, 30) if key_figures else ():

        async def report(_run: int, days: int = days) -> None:
            start, end = kpis.last_days(utcnow(), days, ZONE)
            await kpis.report(db, actor=ADMIN, start=start, end=end)

        found[f"KPI report, {days} day{'s' if days > 1 else ''}"] = await timed(
            recorder, runs, report
        )

    async def erase(run: int) -> None:
        report = await privacy.erase(db, actor=ADMIN, phone=subjects[run].phone)
        assert report.messages >= 6

    found["erasure"] = await timed(recorder, len(subjects), erase, warm=False)
    deleted = await retention.run(db, policy=POLICY)

    async def retain(_run: int) -> None:
        await retention.run(db, policy=POLICY)

    found["retention run"] = await timed(recorder, retention_runs, retain, warm=False)
    return found, deleted


async def explain(db: Database, statements: list[Statement], top: int = 2) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the ``top`` slowest statements (in a transaction
    rolled back: a write is undone)."""
    plans = []
    worth = [s for s in statements if not s.sql.lstrip().upper().startswith(("INSERT", "SET"))]
    for statement in sorted(worth, key=lambda s: s.ms, reverse=True)[:top]:
        async with db.engine.connect() as connection:
            try:
                result = await connection.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.parameters
                )
                plan = "\n".join(row[0] for row in result)
            except DBAPIError as failed:
                plan = f"(not explained: {failed.orig})"
            await connection.rollback()
        plans.append(f"-- {statement.ms:.1f} ms in the run\n{statement.sql}\n{plan}")
    return plans
