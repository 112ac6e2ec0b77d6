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

from ovenai.cli.sandbox import point_at_simulator
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


def _call(url: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _eventually(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "the sandbox did not get there in time"
        time.sleep(0.2)


def test_the_whole_loop_runs_in_the_sandbox(
    sandbox: tuple[subprocess.Popen[str], int, int],
) -> None:
    """A lead writes in; the agent answers with text and a template; both end `read`."""
    process, port, sim_port = sandbox
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(2)]
    token = next(line.split()[-1] for line in lines if line.startswith("API token"))
    api = f"http://127.0.0.1:{port}/api/v1"
    inbound = {"from": "972502345678", "name": "דנה", "type": "text", "text": "שלום, דירה בחיפה?"}
    request = urllib.request.Request(
        f"http://127.0.0.1:{sim_port}/_sim/inbound",
        data=json.dumps(inbound).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=5).close()
    found = _eventually(lambda: _call(f"{api}/leads?phone=0502345678", token)[1]["items"])
    lead = found[0]
    assert lead["name"] == "דנה" and lead["source"] == "whatsapp"
    text = _call(f"{api}/leads/{lead['id']}/messages", token, {"text": "מתי נוח לך לצפייה?"})
    template = _call(
        f"{api}/leads/{lead['id']}/messages",
        token,
        {"template": "welcome_new_lead", "params": ["דנה", "חיפה"]},
    )
    assert text[0] == 202 and template[0] == 202

    def all_read() -> list[dict[str, Any]] | None:
        messages = _call(f"{api}/leads/{lead['id']}/messages", token)[1]
        outbound = [m for m in messages if m["direction"] == "outbound"]
        done = len(outbound) == 3 and all(m["status"] == "read" for m in outbound)
        return outbound if done else None

    # The default rule greeted the stranger first (the town from their message), then the
    # agent's text and template went.
    greeting, answer, sent = _eventually(all_read)
    assert greeting["template"] == "welcome_new_lead_he"
    assert greeting["text"].startswith("שלום דנה, תודה על פנייתך לגבי הנכס בחיפה.")
    assert answer["text"] == "מתי נוח לך לצפייה?"
    assert sent["template"] == "welcome_new_lead_he"
    assert sent["text"].startswith("שלום דנה, תודה על פנייתך לגבי הנכס בחיפה.")
