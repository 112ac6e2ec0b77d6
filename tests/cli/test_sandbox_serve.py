"""`ovenai serve --sandbox` is the whole product with no Meta account: the product and the
bundled simulator served by one process, stopped together by Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from ovenai.cli.simulator import point_at_simulator
from ovenai.crypto import generate_master_key
from ovenai.settings import Settings, load_settings

OVENAI = str(Path(sys.executable).with_name("ovenai"))
OURS = ("OVENAI_", "WHATSAPP_", "DATABASE_URL", "REDIS_URL")
SANDBOX_WABA = "200000000000001"


def _environment(**values: str) -> dict[str, str]:
    kept = {key: value for key, value in os.environ.items() if not key.startswith(OURS)}
    return kept | values


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _wait_until_up(url: str, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited early: {process.communicate()}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout}s")


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, int]]:
    """`ovenai serve --sandbox` on free ports, data in a tmp dir; killed if still running."""
    port, sim_port = _free_port(), _free_port()
    environment = _environment(
        OVENAI_DATA_DIR=str(tmp_path / "var"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'ovenai.db'}",
        WHATSAPP_ACCESS_TOKEN="sandbox-test-token",
    )
    command = [OVENAI, "serve", "--sandbox", "--port", str(port), "--simulator-port", str(sim_port)]
    process = subprocess.Popen(
        command,
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/health", process)
        yield process, port, sim_port
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def test_serve_sandbox_runs_the_product_and_the_simulator_and_stops_on_ctrl_c(
    sandbox: tuple[subprocess.Popen[str], int, int], tmp_path: Path
) -> None:
    process, port, sim_port = sandbox
    status, health = _get(f"http://127.0.0.1:{port}/health")
    assert status == 200 and health["status"] in ("ok", "degraded")

    simulator = f"http://127.0.0.1:{sim_port}"
    status, config = _get(f"{simulator}/_sim/config")
    assert status == 200
    assert config["webhook_url"] == f"http://127.0.0.1:{port}/api/webhooks/whatsapp"
    listing_url = f"{simulator}/v25.0/{SANDBOX_WABA}/message_templates"
    status, listing = _get(listing_url, token="sandbox-test-token")  # the set token is adopted
    assert status == 200 and len(listing["data"]) == 8
    assert _get(listing_url, token="another-token")[0] == 401

    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "Loaded 8 seed templates for WABA 200000000000001" in out
    assert f"WhatsApp simulator on {simulator}" in out
    engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'ovenai.db'}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT waba_id, status FROM message_templates")).all()
    engine.dispose()
    assert sorted(set(rows)) == [(SANDBOX_WABA, "APPROVED")] and len(rows) == 8


def test_sandbox_and_simulator_are_refused_in_production(tmp_path: Path) -> None:
    environment = _environment(OVENAI_ENV="production", OVENAI_DATA_DIR=str(tmp_path / "var"))
    for command in (["serve", "--sandbox"], ["simulator"]):
        result = subprocess.run(
            [OVENAI, *command],
            env=environment,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 78
        assert result.stderr.strip().splitlines() == [
            "error: sandbox mode refuses to start with OVENAI_ENV=production"
        ]


def test_the_standalone_simulator_serves_and_delivers_to_the_given_url(tmp_path: Path) -> None:
    port = _free_port()
    environment = _environment(OVENAI_DATA_DIR=str(tmp_path / "var"), WHATSAPP_ACCESS_TOKEN="t")
    command = [OVENAI, "simulator", "--port", str(port), "--webhook-url", "http://127.0.0.1:9/hook"]
    process = subprocess.Popen(
        command,
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/_sim/config", process)
        status, config = _get(f"http://127.0.0.1:{port}/_sim/config")
        assert status == 200 and config["webhook_url"] == "http://127.0.0.1:9/hook"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        assert out.startswith(f"WhatsApp simulator on http://127.0.0.1:{port}")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def test_the_product_is_pointed_at_the_simulator_unless_a_base_url_is_set(tmp_path: Path) -> None:
    def settings(**explicit: str) -> Settings:
        key = generate_master_key(key_id="test-1")
        return load_settings(encryption_keys=key, secret_key="s", data_dir=tmp_path, **explicit)

    default = settings()
    point_at_simulator(default, "http://127.0.0.1:4000")
    assert default.whatsapp_api_base_url == "http://127.0.0.1:4000"
    explicit = settings(whatsapp_api_base_url="http://graph.example:8080")
    point_at_simulator(explicit, "http://127.0.0.1:4000")
    assert explicit.whatsapp_api_base_url == "http://graph.example:8080"
