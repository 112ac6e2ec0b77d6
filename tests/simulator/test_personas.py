"""Scripted leads: a persona answers each message the business sends it with its next line,
after its delay, as a signed inbound webhook; silent once its lines run out; forgotten on
reset."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ovenai.cloudapi import CloudApiClient
from support.simulator_http import SimControl, WebhookReceiver

pytestmark = pytest.mark.anyio
WA_ID = "972501234567"


def _texts(receiver: WebhookReceiver) -> list[tuple[str, str, str]]:
    found = []
    for post in receiver.accepted():
        for entry in post.json().get("entry", []):
            for change in entry.get("changes", []):
                value = change.get("value", {})
                names = {c.get("wa_id"): c["profile"]["name"] for c in value.get("contacts", [])}
                for message in value.get("messages", []):
                    sender = message["from"]
                    found.append((sender, names.get(sender, ""), message["text"]["body"]))
    return found


async def _send(client: CloudApiClient) -> Any:
    return await client.send_template(
        to="+" + WA_ID, name="welcome_new_lead_he", language="he", body_params=["נועה", "חיפה"]
    )


async def _replies(receiver: WebhookReceiver, count: int) -> list[tuple[str, str, str]]:
    for _ in range(200):
        if len(_texts(receiver)) >= count:
            break
        await asyncio.sleep(0.02)
    return _texts(receiver)


async def test_a_persona_answers_each_send_with_its_next_line_then_falls_silent(
    client: CloudApiClient, control: SimControl, receiver: WebhookReceiver
) -> None:
    await control.config(statuses=False)
    lines = ["היי, כמה עולה הדירה?", "הסר"]
    spec = {"personas": [{"wa_id": "+972-50-123-4567", "name": "נועה", "lines": lines}]}
    for persona in spec["personas"]:
        persona["delay_s"] = 0.05
    shown = await control._call("POST", "personas", spec)
    assert shown["personas"][0]["wa_id"] == WA_ID and shown["personas"][0]["said"] == 0

    await _send(client)
    first = await _replies(receiver, 1)
    await _send(client)
    second = await _replies(receiver, 2)
    await _send(client)  # the script is over: no third answer
    await asyncio.sleep(0.2)

    assert first == [(WA_ID, "נועה", lines[0])]
    assert second == [(WA_ID, "נועה", line) for line in lines]
    assert _texts(receiver) == second
    assert all(post.signed_with("test-app-secret") for post in receiver.accepted())
    listed = await control._call("GET", "personas")
    assert listed["personas"][0]["said"] == 2

    await control.reset()
    assert (await control._call("GET", "personas")) == {"personas": []}


async def test_a_refused_send_gets_no_answer_and_bad_scripts_are_refused(
    client: CloudApiClient, control: SimControl, receiver: WebhookReceiver
) -> None:
    await control.config(statuses=False)
    spec = {"personas": [{"wa_id": WA_ID, "name": "Dan", "lines": ["hi"], "delay_s": 0.01}]}
    await control._call("POST", "personas", spec)
    await control.faults(unreachable={"numbers": [WA_ID]})
    with pytest.raises(Exception, match="131026"):
        await _send(client)
    await asyncio.sleep(0.1)
    assert _texts(receiver) == []

    for bad in ({"personas": "x"}, {"personas": [{"wa_id": "", "lines": ["a"]}]},
                {"personas": [{"wa_id": WA_ID, "lines": ["a"], "delay_s": -1}]}):  # fmt: skip
        with pytest.raises(Exception, match="400|persona"):
            await control._call("POST", "personas", bad)
