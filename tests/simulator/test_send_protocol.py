"""The uvicorn protocol answers plain sends itself, framed byte for byte as uvicorn would.

Raw sockets, so that framing, pipelining and connection handling are what is tested.
"""

from __future__ import annotations

import asyncio
import re

import orjson
import pytest

from ovenai.simulator import SimulatorThread
from support.simulator import CONFIG
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio
SEND_PATH = f"/v25.0/{CONFIG.phone_number_id}/messages"
WAMID = re.compile(rb"wamid\.[A-Za-z0-9+/=]+")
DATE = re.compile(rb"\r\ndate: [^\r]+")


def send_request(callback: str, *, path: str = SEND_PATH, version: str = "1.1") -> bytes:
    body = orjson.dumps(
        {
            "messaging_product": "whatsapp",
            "to": "+972500000001",
            "type": "template",
            "template": {
                "name": "welcome_new_lead_en",
                "language": {"code": "en"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "a"}] * 2}],
            },
            "biz_opaque_callback_data": callback,
        }
    )
    head = (
        f"POST {path} HTTP/{version}\r\nHost: sim\r\nAuthorization: Bearer {CONFIG.access_token}"
        f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_answer(reader: asyncio.StreamReader) -> bytes:
    """One whole HTTP answer (headers and a content-length body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
    return head + await reader.readexactly(length)


def comparable(answer: bytes) -> bytes:
    return WAMID.sub(b"wamid.X", DATE.sub(b"\r\ndate: X", answer))


async def connect(simulator: SimulatorThread) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(simulator.host, simulator.port)


async def callbacks(control: SimControl) -> list[str]:
    outbox = await control.outbox()
    return [m["body"]["biz_opaque_callback_data"] for m in outbox["messages"]]


async def test_its_answer_has_the_bytes_uvicorn_writes_for_the_asgi_route(
    simulator: SimulatorThread, control: SimControl
) -> None:
    reader, writer = await connect(simulator)
    writer.write(send_request("protocol"))
    own = await read_answer(reader)
    await control.faults(latency={"ms": 0})  # a waiting delay sends it through ASGI
    writer.write(send_request("asgi"))
    through_uvicorn = await read_answer(reader)
    writer.close()
    assert own.startswith(b"HTTP/1.1 200 OK\r\ndate: ")
    assert comparable(own) == comparable(through_uvicorn)
    assert await callbacks(control) == ["protocol", "asgi"]


async def test_pipelined_sends_are_answered_in_order_on_one_connection(
    simulator: SimulatorThread, control: SimControl
) -> None:
    reader, writer = await connect(simulator)
    writer.write(b"".join(send_request(str(n)) for n in range(3)))
    answers = [await read_answer(reader) for _ in range(3)]
    writer.close()
    assert all(answer.startswith(b"HTTP/1.1 200 OK") for answer in answers)
    assert await callbacks(control) == ["0", "1", "2"]


async def test_an_http_10_send_is_answered_and_its_connection_closed(
    simulator: SimulatorThread,
) -> None:
    reader, writer = await connect(simulator)
    writer.write(send_request("old", version="1.0"))
    answer = await read_answer(reader)
    assert b"\r\nconnection: close\r\n" in answer
    assert await reader.read() == b""
    writer.close()


async def test_a_body_split_across_packets_is_read_whole(
    simulator: SimulatorThread, control: SimControl
) -> None:
    reader, writer = await connect(simulator)
    request = send_request("split")
    writer.write(request[:-20])
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.write(request[-20:])
    answer = await read_answer(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert await callbacks(control) == ["split"]


async def test_an_escaped_path_is_left_to_uvicorn_and_still_answered(
    simulator: SimulatorThread, control: SimControl
) -> None:
    reader, writer = await connect(simulator)
    escaped = SEND_PATH.replace("messages", "m%65ssages")
    writer.write(send_request("escaped", path=escaped))
    answer = await read_answer(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert await callbacks(control) == ["escaped"]
