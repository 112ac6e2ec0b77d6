"""Every route refuses a too-large body with 413 while it streams, never buffering it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx

MIB = 1024 * 1024
CHUNK = b"x" * (64 * 1024)


def _chunks(total: int, sent: list[int]) -> Iterator[bytes]:
    """`total` bytes in 64 KiB parts, counting in `sent` how many were taken."""
    while sent[0] < total:
        sent[0] += len(CHUNK)
        yield CHUNK


def _rss_mib() -> float:
    """This process's resident memory (the test server runs in it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_a_declared_too_large_body_is_refused_before_it_is_sent(anonymous: httpx.Client) -> None:
    # Only the headers go out: the answer comes without a byte of the 100 MB body.
    request = (
        "POST /api/v1/leads HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * MIB}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", anonymous.base_url.port or 80), timeout=5) as sock:
        sock.sendall(request.encode())
        head = sock.recv(65536).decode("latin-1")
    assert head.startswith("HTTP/1.1 413")
    assert "PayloadTooLarge" in head
    assert "cache-control: no-store" in head.lower()


def test_a_chunked_body_is_refused_once_past_the_limit(anonymous: httpx.Client) -> None:
    sent = [0]
    answer = anonymous.post(
        "/api/v1/leads",
        content=_chunks(8 * MIB, sent),
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "PayloadTooLarge"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_dashboard_form_has_the_same_limit(anonymous: httpx.Client) -> None:
    answer = anonymous.post("/login", content=b"email=" + b"a" * (2 * MIB))
    assert answer.status_code == 413


def test_a_body_under_the_limit_reaches_the_route(anonymous: httpx.Client) -> None:
    # Unauthenticated: the route's own 401, not the size limit's 413.
    answer = anonymous.post("/api/v1/leads", content=b"{" + b" " * 500_000 + b"}")
    assert answer.status_code == 401


def test_memory_stays_flat_while_100_mb_bodies_are_refused(anonymous: httpx.Client) -> None:
    anonymous.post("/api/v1/leads", content=b"x" * (2 * MIB))  # warm up the path
    before = _rss_mib()
    for _ in range(3):
        sent = [0]
        answer = anonymous.post("/api/v1/leads", content=_chunks(100 * MIB, sent))
        assert answer.status_code == 413
        assert sent[0] < 100 * MIB  # the client stopped sending: the rest was never read
    assert _rss_mib() - before < 40  # the server buffered at most the limit
