"""Inbound photos at volume: from a lead's photo to the file stored, sealed, with its thumbnail.

The product runs as in production, as real commands: ``ovenai serve`` (stores and applies
the webhooks: a ``media_files`` row per photo, no download) and ``ovenai worker`` (the
``media.fetch`` job: ``GET /{media-id}``, the download streamed and sealed into the local
media store, the SHA-256 and type checked, a thumbnail made with Pillow), against the
bundled simulator in this process, which holds the photo and posts each lead's message to
serve as a signed webhook. ``--photos`` photos (default 1,000) of about ``--kb`` KiB (a
real JPEG of noise, default ~1 MB) are sent evenly over ``--seconds`` (default 60).

Reported: how many were stored, the time from just before this process asked the simulator
for the message to the row's ``stored_at`` (p50/p90/p99/max; one clock: the machine's), and
the worker's peak resident memory (``VmHWM``: files are streamed, never held whole, so it
must stay far below the bytes fetched).

    .venv/bin/python -m bench.media --db sqlite
    .venv/bin/python -m bench.media --db postgresql --photos 200 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import statistics
import time
from datetime import datetime
from pathlib import Path

import aiohttp
from PIL import Image
from sqlalchemy import select

from bench.automation_latency import percentile, product_env, simulator_config, start, wait_up
from bench.process import box_speed_s, cpu_seconds, free_port
from bench.webhooks.common import fresh_database, settings_from
from ovenai.db import open_database
from ovenai.models import MediaFile, Message
from ovenai.simulator import SimulatorThread

PHONE_ID = "420000000000019"
WABA = "310000000000019"


def photo(kb: int) -> bytes:
    """A real JPEG of about ``kb`` KiB (noise compresses badly, as photos do)."""
    side = 256
    while True:
        image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90)
        if len(out.getvalue()) >= kb * 1024:
            return out.getvalue()
        side = int(side * 1.05) + 1


async def drive(sim_url: str, data: bytes, photos: int, seconds: float) -> dict[str, float]:
    """Ask the simulator for one photo message a lead, evenly spread; when each was asked."""
    asked: dict[str, float] = {}
    encoded = base64.b64encode(data).decode()
    gap = seconds / photos
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        for n in range(photos):
            await asyncio.sleep(max(0.0, started + n * gap - time.monotonic()))
            spec = {
                "from": f"97254{n:07d}",
                "name": f"Lead {n}",
                "type": "image",
                "data_b64": encoded,
                "wait": False,
            }
            at = time.time()
            async with http.post(f"{sim_url}/_sim/inbound", json=spec) as answer:
                if answer.status != 200:
                    raise SystemExit(f"the simulator refused: {await answer.text()}")
                asked[(await answer.json())["message_id"]] = at
    return asked


async def stored_times(env: dict[str, str]) -> dict[str, tuple[str, datetime | None]]:
    """Each photo's wamid with its state and stored time."""
    db = open_database(settings_from(env))
    await db.start()
    try:
        async with db.session() as session:
            rows = await session.execute(
                select(Message.wa_message_id, MediaFile.state, MediaFile.stored_at).join(
                    MediaFile, MediaFile.message_id == Message.id
                )
            )
            return {str(wamid): (state, at) for wamid, state, at in rows}
    finally:
        await db.dispose()


async def settle(env: dict[str, str], photos: int, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        states = await stored_times(env)
        done = sum(1 for state, _ in states.values() if state not in ("pending", "fetching"))
        if done >= photos:
            return
        await asyncio.sleep(1.0)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(args: argparse.Namespace) -> None:
    data = photo(args.kb)
    with fresh_database(args.db) as env:
        port = free_port()
        sim = simulator_config(port, phone_id=PHONE_ID, waba=WABA, statuses=False)
        with SimulatorThread(sim) as simulator:
            full = product_env(env, sim, simulator.base_url)
            procs = [start(["serve", "--port", str(port)], full), start(["worker"], full)]
            try:
                asyncio.run(wait_up(f"http://127.0.0.1:{port}/health/live"))
                time.sleep(1.0)
                started = time.monotonic()
                asked = asyncio.run(drive(simulator.base_url, data, args.photos, args.seconds))
                asyncio.run(settle(env, args.photos, args.drain_limit))
                elapsed = time.monotonic() - started
                rss = peak_rss_mb(procs[1].pid)
                cpu = {"serve": cpu_seconds(procs[0].pid), "worker": cpu_seconds(procs[1].pid)}
                states = asyncio.run(stored_times(env))
            finally:
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.wait(timeout=30)
    report(args, data, asked, states, elapsed, rss)
    print(f"  CPU seconds: serve {cpu['serve']:.0f}, worker {cpu['worker']:.0f}")


def report(
    args: argparse.Namespace,
    data: bytes,
    asked: dict[str, float],
    states: dict[str, tuple[str, datetime | None]],
    elapsed: float,
    rss: float,
) -> None:
    latencies = [
        (at.timestamp() - asked[wamid]) * 1000
        for wamid, (state, at) in states.items()
        if state == "stored" and at is not None and wamid in asked
    ]
    others: dict[str, int] = {}
    for state, _ in states.values():
        if state != "stored":
            others[state] = others.get(state, 0) + 1
    print(
        f"db={args.db} photos={args.photos} of {len(data) / 1024:,.0f} KiB over"
        f" {args.seconds:.0f} s; box loop {box_speed_s()} s load {os.getloadavg()}"
    )
    print(
        f"  stored {len(latencies)} of {args.photos} (others: {others or 'none'}) in"
        f" {elapsed:.0f} s; worker peak RSS {rss:,.0f} MB"
    )
    if latencies:
        print(
            f"  webhook -> stored: p50 {statistics.median(latencies):,.0f} ms"
            f" p90 {percentile(latencies, 0.9):,.0f} ms p99 {percentile(latencies, 0.99):,.0f} ms"
            f" max {max(latencies):,.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--kb", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--drain-limit", type=float, default=120.0, help="seconds to wait")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
