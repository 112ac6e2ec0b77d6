"""Sends per second of the Cloud API client against the simulator (loopback, bounded).

The simulator runs in its own process (statuses off, no throughput cap); this process
drives ``CloudApiClient.send_template`` with a fixed number of calls in flight.

    .venv/bin/python -m bench.client_throughput --requests 60000 --in-flight 64
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.process import free_port, start_simulator
from ovenai.cloudapi import CloudApiClient

TOKEN = "sim-access-token"
PHONE_ID = "100000000000001"


async def drive(base_url: str, total: int, in_flight: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = total
    async with CloudApiClient(
        access_token=TOKEN, phone_number_id=PHONE_ID, base_url=base_url, max_connections=in_flight
    ) as client:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                await client.send_template(
                    to="+972501234567",
                    name="welcome_new_lead_he",
                    language="he",
                    body_params=["נועה", "הרצל"],
                )
                latencies.append(time.perf_counter() - started)

        await client.send_template(
            to="+972501234567", name="welcome_new_lead_he", language="he", body_params=["a", "b"]
        )
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return total / (time.perf_counter() - started), latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60_000)
    parser.add_argument("--in-flight", type=int, default=64)
    args = parser.parse_args()
    total = min(args.requests, 500_000)
    port = free_port()
    proc = start_simulator(port)
    try:
        rate, latencies = asyncio.run(drive(f"http://127.0.0.1:{port}", total, args.in_flight))
    finally:
        proc.terminate()
        proc.wait(10)
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(f"requests={total} in_flight={args.in_flight}")
    print(f"sends/s: {rate:,.0f}  p50 {p50:.1f} ms  p99 {p99:.1f} ms")


if __name__ == "__main__":
    main()
