"""The worker: the outbound dispatcher, the timed jobs and the stored-webhook fallback.

``ovenai worker`` runs :func:`run_worker` until SIGINT/SIGTERM; sandbox ``serve`` runs it
in-process. Several workers may share one PostgreSQL: they split the outbox (SKIP LOCKED),
share the rate limits (database or Redis) and run each timed job once (job leases).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Callable

import httpx

from ovenai import (
    alert_rules,
    cohort_hours,
    graph_check,
    graph_times,
    heartbeats,
    media_fetch,
    media_store,
    metrics,
    notifiers,
    privacy,
    reactions,
    response_turns,
    scheduler,
    sessions,
    signin,
    wakeups,
    webhook_hours,
    webhook_probe,
)
from ovenai import retention as retention_policy
from ovenai import weekly_report as weekly_reports
from ovenai.cloudapi import client_from
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.ingest.apply import delivery_statuses
from ovenai.ingest.processor import WORKER_LOOK_S, Processor
from ovenai.outbox import limits
from ovenai.outbox.dispatch_config import DispatchConfig
from ovenai.outbox.dispatcher import Dispatcher, new_worker_id
from ovenai.outbox.pause import resume_if_new_token, token_fingerprint
from ovenai.property_files import Uploads
from ovenai.settings import Settings
from ovenai.templates import management as template_management

log = logging.getLogger("ovenai.worker")


@scheduler.every("outbox.prune_limits", seconds=600)
async def prune_limits(ctx: scheduler.JobContext) -> None:
    """Drop idle pair buckets and reach records older than the rolling 24 hours."""
    async with ctx.db.session() as session:
        await limits.prune(session)
        await session.commit()


@scheduler.every("ingest.prune_waiting_statuses", seconds=600)
async def prune_waiting_statuses(ctx: scheduler.JobContext) -> None:
    """Drop statuses that never found their message (see delivery_statuses.WAITING_LIMIT)."""
    async with ctx.db.session() as session:
        await delivery_statuses.prune_waiting(session)
        await session.commit()


@scheduler.every("auth.prune", seconds=600)
async def prune_auth(ctx: scheduler.JobContext) -> None:
    """Drop expired dashboard sessions and sign-in counts whose window is over."""
    await sessions.prune(ctx.db)
    await signin.prune(ctx.db)


@scheduler.daily("retention", hour=2)
async def retention(ctx: scheduler.JobContext) -> None:
    """The retention policy's daily run at 02:00 in the agency's zone."""
    await retention_policy.daily_job(ctx.db, ctx.settings)


@scheduler.every("privacy.rekey_webhook_hours", seconds=600)
async def rekey_webhook_hours(ctx: scheduler.JobContext) -> None:
    """Re-key the webhook hours an erasure touched while they were still being written."""
    await privacy.rekey_pending_hours(ctx.db)


@scheduler.every("alerts.evaluate", seconds=alert_rules.EVALUATE_EVERY_S)
async def evaluate_alerts(ctx: scheduler.JobContext) -> None:
    """Run the alert rules; open, repeat and resolve their alerts (alert_rules.py)."""
    await alert_rules.evaluate(ctx.db, ctx.settings)


@scheduler.every("alerts.deliver", seconds=10)
async def deliver_alerts(ctx: scheduler.JobContext) -> None:
    """Send the queued alert notifications, apart from the evaluation (notifiers.py)."""
    await notifiers.deliver_due(ctx.db, ctx.settings)


@scheduler.every("graph.check", seconds=graph_check.CHECK_EVERY_S)
async def check_graph_api(ctx: scheduler.JobContext) -> None:
    """Ask Meta whether it is reachable and takes our token (graph_check.py)."""
    async with client_from(ctx.settings, max_connections=1) as client:
        result = await graph_check.run(
            ctx.db, client, waba_id=ctx.settings.whatsapp_business_account_id
        )
    if not result.ok:
        log.warning("the Graph API check failed: code %s (%s)", result.code, result.kind)


@scheduler.every("webhooks.probe", seconds=webhook_probe.EVERY_S)
async def probe_webhooks(ctx: scheduler.JobContext) -> None:
    """Post a signed test body to the public webhook URL (webhook_probe.py), when set."""
    if not webhook_probe.configured(ctx.settings):
        return
    async with httpx.AsyncClient() as client:
        await webhook_probe.send(ctx.db, ctx.settings, client=client)


@scheduler.daily("templates.check", hour=7)
async def check_templates(ctx: scheduler.JobContext) -> None:
    """The daily template status check: the registry follows Meta (an alert rule reads it)."""
    waba_id = ctx.settings.whatsapp_business_account_id
    if not waba_id:
        log.warning("no WHATSAPP_BUSINESS_ACCOUNT_ID: the daily template check is skipped")
        return
    async with client_from(ctx.settings, max_connections=1) as client:
        report = await template_management.sync(ctx.db, client, waba_id)
    log.info("templates checked with Meta: %s", report)


@scheduler.every("outbox.gauges", seconds=15)
async def outbox_gauges(ctx: scheduler.JobContext) -> None:
    """Set the outbox's depth and its oldest due message's age (for the metrics)."""
    now = utcnow()
    async with ctx.db.session() as session:
        due, later = await alert_rules.queued_counts(session, now)
        oldest = await alert_rules.oldest_due_at(session, now)
    metrics.OUTBOX_DEPTH.labels(state="due").set(due)
    metrics.OUTBOX_DEPTH.labels(state="later").set(later)
    metrics.OUTBOX_OLDEST_DUE_AGE.set(0 if oldest is None else (now - oldest).total_seconds())


@scheduler.weekly("reports.weekly", day_of_week="sun", hour=8)
async def weekly_report(ctx: scheduler.JobContext) -> None:
    """Sunday 08:00: last week's key figures against the week before, by e-mail."""
    sent = await weekly_reports.send(ctx.db, ctx.settings, utcnow())
    log.info("weekly report e-mailed to %d address(es)", sent)


@scheduler.every("media.fetch", seconds=media_fetch.EVERY_S)
async def fetch_media(ctx: scheduler.JobContext) -> None:
    """Fetch the files leads sent from Meta, check them and store them sealed (media_fetch)."""
    async with client_from(ctx.settings, max_connections=media_fetch.BATCH) as client:
        fetcher = media_fetch.Fetcher(
            db=ctx.db,
            client=client,
            access_token=ctx.settings.secret("whatsapp_access_token"),
            store=media_store.open_store(ctx.settings),
            max_bytes=ctx.settings.media_max_bytes,
        )
        await media_fetch.purge(fetcher)
        outcome = await media_fetch.run(fetcher, linger_s=media_fetch.LINGER_S)
    if outcome != media_fetch.Outcome():
        log.info("media fetched: %s", outcome)


@scheduler.every("kpis.turns", seconds=response_turns.EVERY_S, lease_s=response_turns.LEASE_S)
async def count_turns(ctx: scheduler.JobContext) -> None:
    """Keep the key figures' turns (ovenai.response_turns) up to the leads' messages."""
    await response_turns.refresh(ctx.db)


@scheduler.every("kpis.cohort", seconds=cohort_hours.EVERY_S, lease_s=cohort_hours.LEASE_S)
async def count_cohort(ctx: scheduler.JobContext) -> None:
    """Keep the key figures' hourly cohort (ovenai.cohort_hours) up to the messages."""
    await cohort_hours.refresh(ctx.db)


@scheduler.every("kpis.webhooks", seconds=webhook_hours.EVERY_S, lease_s=webhook_hours.LEASE_S)
async def count_webhook_times(ctx: scheduler.JobContext) -> None:
    """Keep the key figures' hourly webhook processing times (ovenai.webhook_hours)."""
    await webhook_hours.refresh(ctx.db)


@scheduler.every("graph.prune_minutes", seconds=3600)
async def prune_graph_minutes(ctx: scheduler.JobContext) -> None:
    """Drop the Graph API call times by minute older than the slow-response alert reads."""
    async with ctx.db.session() as session:
        await graph_times.prune(session, utcnow())
        await session.commit()


@scheduler.every("workers.prune_heartbeats", seconds=3600)
async def prune_heartbeats(ctx: scheduler.JobContext) -> None:
    """Drop the heartbeats of workers gone for a day."""
    async with ctx.db.session() as session:
        await heartbeats.prune(session, utcnow())
        await session.commit()


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (a quarter more sends per CPU second).

    Measured with bench/outbound: the worker's time goes mostly to the HTTP client and the
    event loop itself, which uvloop runs in C.
    """
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def run_worker(
    settings: Settings,
    db: Database,
    stop: asyncio.Event,
    *,
    config: DispatchConfig | None = None,
    timed_jobs: bool = True,
) -> None:
    """Run the dispatcher, the scheduler and the webhook fallback until ``stop`` is set."""
    worker_id = new_worker_id()
    token = settings.secret("whatsapp_access_token")
    if await resume_if_new_token(db, token):
        log.warning("sending was paused for another access token; resumed")
    buckets = limits.open_buckets(db, settings.redis_url)
    client = client_from(settings, max_connections=settings.worker_concurrency)
    dispatcher = Dispatcher(
        db,
        client,
        buckets,
        config or DispatchConfig.from_settings(settings),
        worker_id=worker_id,
        token_id=token_fingerprint(token),
        uploads=Uploads(db, media_store.store_for(settings), client),
    )
    timed = scheduler.Scheduler(scheduler.JobContext(settings, db), worker_id)
    reactions.install(settings, db.vault)  # consent, score and rules on what is applied here
    processor = Processor(db, on_applied=dispatcher.wake, look_every=WORKER_LOOK_S)
    stopping = asyncio.Event()
    beating = asyncio.create_task(heartbeats.keep_beating(db, worker_id, stopping))
    # Serve queues messages too (replies, automation on the webhooks it applies).
    woken = asyncio.create_task(wakeups.watch(db.url, lambda _payload: dispatcher.wake(), stopping))
    timing = asyncio.create_task(graph_times.keep_storing(db, stopping))
    try:
        if timed_jobs:
            timed.start()
        processor.start()
        # What exists now (modules, settings, pools) lives as long as the process: keep it
        # out of full collections, which otherwise paused this worker for 100-140 ms at a
        # time and made it miss its sending slots (bench/outbound, capped).
        gc.freeze()
        log.info("worker %s started", worker_id)
        await dispatcher.run(stop)
    finally:
        stopping.set()
        await timed.stop()
        with contextlib.suppress(Exception):
            await processor.stop()
        reactions.uninstall(db.vault)
        await client.aclose()
        await buckets.aclose()
        await woken
        await timing  # its last turn stores the calls made until the stop
        await beating  # its last act removes the heartbeat
        log.info("worker %s stopped", worker_id)
