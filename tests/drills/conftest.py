"""What the drills share: a real ``ovenai serve --sandbox`` on loopback, data in a tmp dir.

A drill's long form is marked ``drills`` (deselected by pyproject's addopts, run by ``make
drills``); its short form is an ordinary test that ``make test`` runs. See docs/drills.md.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

OVENAI = str(Path(sys.executable).with_name("ovenai"))
OURS = ("OVENAI_", "WHATSAPP_", "DATABASE_URL", "REDIS_URL")
TOKEN_LINE = re.compile(r"^API token \(shown once\): (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox: its URL, the demo admin's API token and its log files."""

    url: str
    token: str
    stdout: Path
    stderr: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """``ovenai serve --sandbox`` as a process of its own, with the token it printed."""
    folder = tmp_path_factory.mktemp("sandbox")
    port, sim_port = _free_port(), _free_port()
    kept = {key: value for key, value in os.environ.items() if not key.startswith(OURS)}
    environment = kept | {
        "OVENAI_DATA_DIR": str(folder / "var"),
        "DATABASE_URL": f"sqlite:///{folder / 'var' / 'ovenai.db'}",
        "OVENAI_ACCESS_LOG": "false",
    }
    command = [OVENAI, "serve", "--sandbox", "--port", str(port)]
    stdout, stderr = folder / "stdout.log", folder / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [*command, "--simulator-port", str(sim_port)],
            env=environment,
            cwd=folder,
            stdout=out,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        token = _wait_until_up(url, process, stdout)
        yield Sandbox(url, token, stdout, stderr)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], stdout: Path) -> str:
    """Wait for /health/live and the printed token; return the token."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"ovenai serve --sandbox exited: {stdout.read_text()}"
        found = TOKEN_LINE.search(stdout.read_text())
        try:
            if found and httpx.get(f"{url}/health/live", timeout=2).status_code == 200:
                return found.group(1)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("ovenai serve --sandbox did not start within 60 s")
