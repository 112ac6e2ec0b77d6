"""The messages-per-second cap holds in every sliding second, and the simulator proves it."""

from __future__ import annotations

import asyncio
import time

import pytest

from ovenai.cloudapi import CloudApiClient
from ovenai.cloudapi import errors as e
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio


async def send(client: CloudApiClient, n: int) -> bool:
    try:
        await client.send_template(
            to=f"+97250{n:07d}",
            name="welcome_new_lead_en",
            language="en",
            body_params=["Noa", "Haifa"],
        )
    except e.ThroughputExceeded:
        return False
    return True


async def test_a_burst_above_the_cap_is_cut_with_130429(
    client: CloudApiClient, control: SimControl
) -> None:
    await control.faults(mps_cap=25)
    outcomes = await asyncio.gather(*(send(client, n) for n in range(60)))
    assert outcomes.count(True) == 25
    stats = await control.stats()
    assert stats["max_accepted_per_second"] == 25
    assert stats["counts"]["rejected_130429"] == 35


async def test_the_cap_never_exceeds_its_value_in_any_second_of_a_longer_run(
    client: CloudApiClient, control: SimControl
) -> None:
    # Sends keep coming until the simulator has accepted one and a half caps' worth, which
    # no run can do inside one sliding second: the window has moved on meanwhile. (How many
    # it accepts per second of wall clock is measured in bench/, bench/README.md.)
    cap = 40
    await control.faults(mps_cap=cap)
    accepted, sent, deadline = 0, 0, time.monotonic() + 30
    while accepted <= cap + cap // 2:
        assert time.monotonic() < deadline, f"only {accepted} of {sent} sends were accepted"
        results = await asyncio.gather(*(send(client, sent + i) for i in range(10)))
        accepted += results.count(True)
        sent += 10
        await asyncio.sleep(0.01)
    stats = await control.stats()
    assert stats["max_accepted_per_second"] <= cap
    assert stats["max_attempts_per_second"] > cap  # the load really pressed on the cap
    assert stats["counts"]["accepted"] == accepted
    assert stats["counts"]["rejected_130429"] == sent - accepted  # every other send: 130429
