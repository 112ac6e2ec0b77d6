"""The simulator's throughput cap over a timed run (moved from a unit test).

tests/simulator/test_throughput_cap.py asserts that no sliding second accepts more than the
cap, whatever the load; what the cap lets through per second of wall clock is measured here:
the simulator in its own process (statuses off, cap 40 by default), this process sending
rounds of 10 template sends at once with a 10 ms pause between rounds, for a fixed time.

    .venv/bin/python -m bench.unit_moved_sim_cap --seconds 1.6 --cap 40
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import urllib.request
from typing import Any

import orjson

from bench.process import box_speed_s, free_port, start_simulator
from ovenai.cloudapi import CloudApiClient
from ovenai.cloudapi.errors import ThroughputExceeded

TOKEN = "sim-access-token"  # the simulator's default configuration
PHONE_ID = "100000000000001"


async def send(client: CloudApiClient, n: int) -> bool:
    """One template send; whether the simulator accepted it (False: 130429)."""
    try:
        await client.send_template(
            to=f"+97250{n:07d}", name="welcome_new_lead_en", language="en", body_params=["a", "b"]
        )
    except ThroughputExceeded:
        return False
    return True


async def drive(base_url: str, seconds: float) -> tuple[int, int, float]:
    """Send rounds for `seconds`; (accepted, sent, elapsed seconds)."""
    accepted = sent = 0
    async with CloudApiClient(
        access_token=TOKEN, phone_number_id=PHONE_ID, base_url=base_url
    ) as client:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            results = await asyncio.gather(*(send(client, sent + i) for i in range(10)))
            accepted += results.count(True)
            sent += 10
            await asyncio.sleep(0.01)
        return accepted, sent, time.monotonic() - started


def _stats(base_url: str) -> Any:
    with urllib.request.urlopen(f"{base_url}/_sim/stats", timeout=10) as answer:
        return orjson.loads(answer.read())


def main(argv: list[str]) -> int:
    """Print what was accepted in the run, per second, and the busiest sliding second."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.6)
    parser.add_argument("--cap", type=int, default=40)
    args = parser.parse_args(argv)
    print(f"box loop 10M: {box_speed_s()} s")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    simulator = start_simulator(port, cap=args.cap)
    try:
        accepted, sent, elapsed = asyncio.run(drive(base_url, args.seconds))
        stats = _stats(base_url)
    finally:
        simulator.terminate()
        simulator.wait(10)
    print(
        f"cap {args.cap}/s, {elapsed:.2f} s: sent {sent}, accepted {accepted} "
        f"({accepted / elapsed:.1f}/s; at most {args.cap * (int(elapsed) + 1)} in that many "
        f"started seconds), busiest sliding second {stats['max_accepted_per_second']}, "
        f"busiest calendar second of attempts {stats['max_attempts_per_second']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
