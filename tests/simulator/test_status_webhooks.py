"""Accepted sends produce sent / delivered / read webhooks; faults bend their delivery."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ovenai.cloudapi import CloudApiClient
from support.simulator_http import SimControl, WebhookReceiver

pytestmark = pytest.mark.anyio
LEAD = "+972501234567"


async def send_welcome(client: CloudApiClient, to: str = LEAD, **extra: Any) -> str:
    result = await client.send_template(
        to=to, name="welcome_new_lead_he", language="he", body_params=["נועה", "הרצל"], **extra
    )
    return result.message_id


async def test_a_template_send_is_followed_by_sent_delivered_and_read(
    client: CloudApiClient, receiver: WebhookReceiver
) -> None:
    wamid = await send_welcome(client, callback_data="lead=4711")
    posts = await receiver.wait_for(3)
    assert all(post.signed_with("test-app-secret") for post in posts)
    statuses = receiver.statuses()
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert {s["id"] for s in statuses} == {wamid}
    sent = statuses[0]
    assert sent["recipient_id"] == "972501234567"
    assert sent["biz_opaque_callback_data"] == "lead=4711"
    assert sent["pricing"] == {
        "billable": True,
        "pricing_model": "PMP",
        "type": "regular",
        "category": "utility",
    }
    assert "pricing" not in statuses[2] and "conversation" not in sent


async def test_statuses_can_be_batched_into_one_post(
    client: CloudApiClient, control: SimControl, receiver: WebhookReceiver
) -> None:
    await control.config(
        webhook_batch_size=10, webhook_batch_wait_s=0.1, status_delays=[0.01, 0.01, 0.01]
    )
    await send_welcome(client)
    await send_welcome(client, to="+972501234568")
    await receiver.wait_for(1)
    await asyncio.sleep(0.05)
    assert len(receiver.accepted()) == 1 and len(receiver.statuses()) == 6


async def test_an_async_unreachable_number_gets_a_failed_status_with_errors(
    client: CloudApiClient, control: SimControl, receiver: WebhookReceiver
) -> None:
    await control.faults(unreachable={"numbers": [LEAD], "mode": "async"})
    wamid = await send_welcome(client)
    await receiver.wait_for(1)
    (failed,) = receiver.statuses()
    assert (failed["id"], failed["status"]) == (wamid, "failed")
    assert failed["errors"][0]["code"] == 131026
    assert failed["errors"][0]["title"] == failed["errors"][0]["message"]


async def test_duplicate_deliveries_repeat_the_same_bytes(
    client: CloudApiClient, control: SimControl, receiver: WebhookReceiver
) -> None:
    await control.faults(duplicate_webhooks=True)
    await control.config(read_receipts=False)
    await send_welcome(client)
    posts = await receiver.wait_for(4)
    bodies = [post.body for post in posts]
    assert len(set(bodies)) == 2 and all(bodies.count(body) == 2 for body in bodies)


async def test_reordered_deliveries_bring_read_before_sent(
    client: CloudApiClient, control: SimControl, receiver: WebhookReceiver
) -> None:
    await control.faults(reorder_webhooks=True)
    await send_welcome(client)
    await receiver.wait_for(3)
    assert [s["status"] for s in receiver.statuses()] == ["read", "delivered", "sent"]


async def test_status_deliveries_are_retried_after_non_200(
    client: CloudApiClient, control: SimControl, receiver: WebhookReceiver
) -> None:
    receiver.fail_first = 2
    await control.config(read_receipts=False)
    await send_welcome(client)
    await receiver.wait_for(2)
    assert sorted(s["status"] for s in receiver.statuses()) == ["delivered", "sent"]
    assert len(receiver.received) == 4


@pytest.mark.parametrize("spec", [{"statuses": "off"}, {"status_sample_rate": 0.0}])
async def test_statuses_can_be_switched_off_or_sampled_away(
    client: CloudApiClient,
    control: SimControl,
    receiver: WebhookReceiver,
    spec: dict[str, Any],
) -> None:
    await control.faults(**spec)
    await send_welcome(client)
    await asyncio.sleep(0.15)
    assert receiver.received == []


async def test_a_burst_of_statuses_queues_for_the_connections_and_none_is_given_up(
    client: CloudApiClient, control: SimControl, receiver: WebhookReceiver
) -> None:
    """More statuses at once than the dispatcher's connections can carry within the timeout:
    the wait for a connection is not the product's answer being late (it gave up on them)."""
    receiver.delay_s = 0.1  # 100 connections at 0.1 s an answer: ~1,000 a second
    await control.config(
        webhook_timeout_s=0.5, read_receipts=False, status_delays=[0.01, 0.01, 0.01]
    )
    sends = 400  # 800 statuses at once: the last wait about 0.8 s for a connection
    await asyncio.gather(*(send_welcome(client, to=f"+9725020{n:05d}") for n in range(sends)))
    await receiver.wait_for(2 * sends, timeout=30)
    stats = await control.stats()
    assert stats["counts"]["webhooks_delivered"] == 2 * sends
    assert "webhooks_given_up" not in stats["counts"]
