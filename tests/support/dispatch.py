"""What a worker does with the queued messages, for tests whose product runs without one:
send them, here to the simulator, through the product's own dispatcher."""

from __future__ import annotations

from ovenai.cloudapi import CloudApiClient
from ovenai.db import open_database
from ovenai.outbox.bucket_store import DatabaseBuckets
from ovenai.outbox.dispatch_config import DispatchConfig
from ovenai.outbox.dispatcher import Dispatcher
from ovenai.outbox.retry import RetryPolicy
from ovenai.settings import Settings
from ovenai.simulator import SimulatorConfig, SimulatorThread
from support.aio import run_async


def dispatch_queued(settings: Settings, sim: SimulatorThread, config: SimulatorConfig) -> None:
    """Send every queued message to the simulator (no pacing to speak of), then return."""

    async def send() -> None:
        db = open_database(settings)
        await db.start()
        try:
            async with CloudApiClient(
                access_token=config.access_token,
                phone_number_id=config.phone_number_id,
                business_account_id=config.business_account_id,
                base_url=sim.base_url,
                timeout=5.0,
            ) as api:
                dispatch = DispatchConfig(
                    phone_number_id=config.phone_number_id,
                    portfolio=config.business_account_id,
                    messages_per_second=1000.0,
                    pair_interval_s=0.001,
                    pair_burst=45,
                    messaging_limit=None,
                    policy=RetryPolicy(base_s=0.0, cap_s=0.0, max_attempts=3),
                    poll_s=0.05,
                )
                await Dispatcher(db, api, DatabaseBuckets(db), dispatch).drain()
        finally:
            await db.dispose()

    run_async(send)
