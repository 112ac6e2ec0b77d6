"""The keep-alive connection pool against real loopback HTTP servers written byte by byte."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ovenai.cloudapi.connections import ConnectionPool
from ovenai.cloudapi.errors import ConnectionFailed, RequestTimedOut
from ovenai.cloudapi.transport import GraphTransport, Multipart

pytestmark = pytest.mark.anyio
OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'
Reply = Callable[[bytes], Awaitable[bytes | None]]


class Server:
    """A loopback HTTP server: reads each request whole, answers what ``reply`` returns."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.port = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                self.requests.append(request)
                answer = await self.reply(request)
                if answer is None:  # hang up without answering
                    break
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + await reader.readexactly(length)


@asynccontextmanager
async def serving(reply: Reply, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    """A `Server` listening on 127.0.0.1; its port in ``server.port``."""
    server = Server(reply)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server


async def ok(_: bytes) -> bytes:
    return OK


def ok_after(seconds: float) -> Reply:
    """A reply that answers 200 after ``seconds``."""

    async def slow(_: bytes) -> bytes:
        await asyncio.sleep(seconds)
        return OK

    return slow


def pool_for(server: Server, scheme: str = "http", **options: Any) -> ConnectionPool:
    return ConnectionPool(f"{scheme}://127.0.0.1:{server.port}", **options)


async def test_it_reuses_one_connection_for_requests_in_sequence() -> None:
    async with serving(ok) as server:
        pool = pool_for(server)
        for _ in range(5):
            answer = await pool.request("POST", "/v25.0/1/messages", headers=b"", timeout=5)
            assert (answer.status, answer.body) == (200, b'{"ok":true}')
        await pool.aclose()
    assert server.connections == 1
    assert len(server.requests) == 5


def test_it_works_on_uvloop_as_the_worker_runs_it() -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(test_it_reuses_one_connection_for_requests_in_sequence())


async def test_it_sends_host_headers_and_body_as_given() -> None:
    async with serving(ok) as server:
        pool = pool_for(server)
        headers = b"Authorization: Bearer t0ken\r\nContent-Type: application/json\r\n"
        await pool.request("POST", "/v25.0/1/messages", headers=headers, body=b"{}", timeout=5)
        await pool.aclose()
    request = server.requests[0]
    assert request.startswith(b"POST /v25.0/1/messages HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in request
    assert b"Authorization: Bearer t0ken\r\n" in request
    assert request.endswith(b"Content-Length: 2\r\n\r\n{}")


async def test_it_never_opens_more_connections_than_its_limit() -> None:
    async with serving(ok_after(0.05)) as server:
        pool = pool_for(server, limit=3)
        calls = [pool.request("GET", "/", headers=b"", timeout=10) for _ in range(12)]
        answers = await asyncio.gather(*calls)
        await pool.aclose()
    assert [a.status for a in answers] == [200] * 12
    assert server.connections == 3


async def test_it_reads_a_chunked_answer_whole() -> None:
    chunked = (
        b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\n{"err\r\n6\r\nor":1}\r\n0\r\n\r\n'
    )

    async def reply(_: bytes) -> bytes:
        return chunked

    async with serving(reply) as server:
        pool = pool_for(server)
        answer = await pool.request("GET", "/", headers=b"", timeout=5)
        await pool.aclose()
    assert (answer.status, answer.body) == (400, b'{"error":1}')


async def test_a_connection_the_server_asked_to_close_is_not_reused() -> None:
    closing = OK.replace(b"Content-Length", b"Connection: close\r\nContent-Length")

    async def reply(_: bytes) -> bytes:
        return closing

    async with serving(reply) as server:
        pool = pool_for(server)
        for _ in range(3):
            assert (await pool.request("GET", "/", headers=b"", timeout=5)).status == 200
        await pool.aclose()
    assert server.connections == 3


async def test_an_idle_connection_the_server_closed_is_replaced() -> None:
    served = 0

    async def once_per_connection(_: bytes) -> bytes:
        nonlocal served
        served += 1
        return OK

    async with serving(once_per_connection) as server:
        pool = pool_for(server, keepalive_s=0.05)
        await pool.request("GET", "/", headers=b"", timeout=5)
        await asyncio.sleep(0.1)  # longer than keepalive_s: the idle connection is dropped
        await pool.request("GET", "/", headers=b"", timeout=5)
        await pool.aclose()
    assert (served, server.connections) == (2, 2)


async def test_a_hang_up_before_the_answer_is_a_connection_failure() -> None:
    async def hang_up(_: bytes) -> None:
        return None

    async with serving(hang_up) as server:
        transport = GraphTransport(access_token="t", base_url=f"http://127.0.0.1:{server.port}")
        with pytest.raises(ConnectionFailed, match="closed the connection"):
            await transport.post("1/messages", {}, endpoint="send_text")
        await transport.aclose()


async def test_a_malformed_answer_is_a_connection_failure() -> None:
    async def garbage(_: bytes) -> bytes:
        return b"NOT HTTP AT ALL\r\n\r\n"

    async with serving(garbage) as server:
        transport = GraphTransport(access_token="t", base_url=f"http://127.0.0.1:{server.port}")
        with pytest.raises(ConnectionFailed, match="malformed HTTP answer"):
            await transport.post("1/messages", {}, endpoint="send_text")
        await transport.aclose()


async def test_a_late_answer_times_out_and_never_reaches_the_next_request() -> None:
    delays = [0.5, 0.0]

    async def late_then_quick(request: bytes) -> bytes:
        await asyncio.sleep(delays.pop(0))
        body = request.split(b"\r\n\r\n", 1)[1]
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
        return head + body

    async with serving(late_then_quick) as server:
        transport = GraphTransport(
            access_token="t",
            base_url=f"http://127.0.0.1:{server.port}",
            timeout=0.2,
        )
        with pytest.raises(RequestTimedOut):
            await transport.post("1/messages", {"n": 1}, endpoint="send_text")
        assert await transport.post("1/messages", {"n": 2}, endpoint="send_text") == {"n": 2}
        await transport.aclose()
    assert server.connections == 2  # the timed-out connection was closed, not reused


async def test_waiting_for_a_free_connection_counts_against_the_deadline() -> None:
    async with serving(ok_after(0.3)) as server:
        pool = pool_for(server, limit=1)
        first = asyncio.create_task(pool.request("GET", "/", headers=b"", timeout=5))
        await asyncio.sleep(0.05)  # the one connection is busy
        with pytest.raises(TimeoutError):
            await pool.request("GET", "/", headers=b"", timeout=0.1)
        assert (await first).status == 200  # the waiting request's deadline took nothing else
        assert (await pool.request("GET", "/", headers=b"", timeout=5)).status == 200
        await pool.aclose()
    assert server.connections == 1


async def test_a_cancelled_request_closes_its_connection() -> None:
    async with serving(ok_after(0.3)) as server:
        pool = pool_for(server, limit=1)
        waiting = asyncio.create_task(pool.request("GET", "/", headers=b"", timeout=5))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert (await pool.request("GET", "/", headers=b"", timeout=5)).status == 200
        await pool.aclose()
    assert server.connections == 2  # the cancelled exchange's connection was not reused


async def test_a_refused_connection_is_a_connection_failure() -> None:
    async with serving(ok) as server:
        port = server.port
    transport = GraphTransport(access_token="t", base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(ConnectionFailed) as failure:
        await transport.post("1/messages", {}, endpoint="send_text")
    assert failure.value.retryable
    await transport.aclose()


async def test_it_talks_tls_to_an_https_origin(tmp_path: Path) -> None:
    server_tls, client_tls = _tls_pair(tmp_path)
    async with serving(ok, tls=server_tls) as server:
        pool = pool_for(server, "https", ssl_context=client_tls)
        answer = await pool.request("GET", "/v25.0/me", headers=b"", timeout=5)
        await pool.aclose()
    assert answer.status == 200
    assert server.requests[0].startswith(b"GET /v25.0/me HTTP/1.1\r\n")


async def test_an_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    server_tls, _ = _tls_pair(tmp_path)
    async with serving(ok, tls=server_tls) as server:
        transport = GraphTransport(access_token="t", base_url=f"https://127.0.0.1:{server.port}")
        with pytest.raises(ConnectionFailed, match="CERTIFICATE_VERIFY_FAILED"):
            await transport.get("me", endpoint="me")
        await transport.aclose()
    assert server.requests == []


async def test_the_transport_keeps_a_base_path_and_encodes_query_params() -> None:
    async with serving(ok) as server:
        base = f"http://127.0.0.1:{server.port}/graph"
        transport = GraphTransport(access_token="t", base_url=base, api_version="v25.0")
        await transport.get("42/message_templates", endpoint="t", params={"fields": "a,b"})
        await transport.get(f"{base}/v25.0/42/message_templates?after=X", endpoint="t")
        await transport.aclose()
    lines = [request.split(b"\r\n", 1)[0] for request in server.requests]
    assert lines == [
        b"GET /graph/v25.0/42/message_templates?fields=a%2Cb HTTP/1.1",
        b"GET /graph/v25.0/42/message_templates?after=X HTTP/1.1",
    ]


def test_a_multipart_body_carries_fields_and_the_file() -> None:
    form = Multipart.build(
        {"messaging_product": "whatsapp"},
        name="file",
        data=b"%PDF-1.7 \x00\xff",
        filename='payslip "march".pdf',
        mime_type="application/pdf",
    )
    boundary = form.content_type.split("boundary=")[1].encode()
    assert form.body.startswith(b"--" + boundary + b"\r\n")
    assert b'name="messaging_product"\r\n\r\nwhatsapp\r\n' in form.body
    assert (
        b'name="file"; filename="payslip march.pdf"\r\nContent-Type: application/pdf' in form.body
    )
    assert form.body.endswith(b"%PDF-1.7 \x00\xff\r\n--" + boundary + b"--\r\n")


def _tls_pair(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: the server's context and one trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client
