"""pywa's async client sending templates to the simulator, for :mod:`bench.peer.send`. Run
by the peer venv's python only:

    var/bench-peer-venv/bin/python bench/peer/pywa_send.py --port 8123 --messages 20000 \
        --concurrency 64

``pywa_async.WhatsApp.send_template`` (the template of the product's outbound benchmark,
``welcome_new_lead_he`` with two body parameters, to a different number each), with
``--concurrency`` sends in flight over one ``httpx.AsyncClient`` holding as many
connections. pywa builds ``https://graph.facebook.com/v...`` URLs; a request hook of that
client points every request at the loopback simulator before it leaves (scheme, host and
port rewritten: nothing goes to the internet). Prints one JSON line: sends, errors, seconds.

pywa and httpx are imported by name at run time (importlib): they are installed in the peer
venv only, so the project's mypy and deptry, which see .venv, do not look for them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any


def loopback(port: int) -> Callable[[Any], Awaitable[None]]:
    """An httpx request hook sending every request to 127.0.0.1:``port`` over plain HTTP."""

    async def rewrite(request: Any) -> None:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=port)

    return rewrite


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    httpx = importlib.import_module("httpx")
    pywa = importlib.import_module("pywa_async")
    templates = importlib.import_module("pywa_async.types.templates")
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=None)
    nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)] if args.nodelay else []
    transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=nodelay)
    session = httpx.AsyncClient(
        transport=transport, timeout=60, event_hooks={"request": [loopback(args.port)]}
    )
    client = pywa.WhatsApp(
        phone_id=args.phone_id, token=args.token, session=session, api_version=args.api_version
    )
    language = templates.TemplateLanguage.HEBREW
    params = [templates.BodyText.params("נועה", "חיפה")]
    next_number = args.offset
    last = args.offset + args.messages
    errors = 0

    async def send(number: int) -> None:
        await client.send_template(
            to=f"9725{number:08d}", name="welcome_new_lead_he", language=language, params=params
        )

    async def worker() -> None:
        nonlocal next_number, errors
        while next_number < last:
            number = next_number
            next_number += 1
            try:
                await send(number)
            except Exception:  # a refused send counts as an error, as a 4xx would
                errors += 1

    await send(args.offset + args.messages)  # warm: one connection, pywa's first request
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    seconds = time.perf_counter() - started
    await session.aclose()
    return {"sends": args.messages - errors, "errors": errors, "seconds": round(seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--offset", type=int, default=0, help="first recipient number")
    parser.add_argument("--phone-id", default="100000000000001")
    parser.add_argument("--token", default="sim-access-token")
    parser.add_argument("--api-version", default="25.0")
    parser.add_argument(
        "--no-nodelay", dest="nodelay", action="store_false", help="httpx's default sockets"
    )
    args = parser.parse_args()
    print(json.dumps(asyncio.run(drive(args))), flush=True)


if __name__ == "__main__":
    main()
