"""An operator's commands work in a `make run` checkout with no variables set: they read the
sandbox's generated settings from var/ (and say so), while services and production never do.

One sandbox is started in a tmp checkout, stopped, and then the README's commands run there
as real processes with nothing of OvenAI's in their environment.
"""

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

import pytest

from ovenai.cli.sandbox import simulator_port_for
from ovenai.errors import ConfigurationError
from ovenai.settings import SANDBOX_URLS, load_settings, record_sandbox_urls

OVENAI = str(Path(sys.executable).with_name("ovenai"))
OURS = ("OVENAI_", "WHATSAPP_", "DATABASE_URL", "REDIS_URL")
NOTE = "note: using the sandbox's settings in var/ (nothing configured)"
PHONE = "+972526667777"


def _bare_environment(**values: str) -> dict[str, str]:
    kept = {key: value for key, value in os.environ.items() if not key.startswith(OURS)}
    return kept | values


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A checkout where `ovenai serve --sandbox` ran once (secrets, databases, demo admin)."""
    folder = tmp_path_factory.mktemp("checkout")
    port, sim_port = _free_port(), _free_port()
    command = [OVENAI, "serve", "--sandbox", "--port", str(port), "--simulator-port", str(sim_port)]
    process = subprocess.Popen(
        command,
        env=_bare_environment(),
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "the sandbox did not come up"
                time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
        yield folder
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def ovenai(
    folder: Path, *args: str, stdin: str = "", **environment: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OVENAI, *args],
        input=stdin,
        env=_bare_environment(**environment),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert result.stderr.splitlines()[:1] == [NOTE], result.stderr
    return result.stdout


def test_the_readme_commands_work_against_the_sandbox_with_nothing_set(checkout: Path) -> None:
    _ok(ovenai(checkout, "db", "upgrade"))
    _ok(
        ovenai(
            checkout, "users", "create", "dana@agency.co.il", "--password-stdin",
            stdin="a long enough password\n",
        )
    )  # fmt: skip
    listed = _ok(ovenai(checkout, "users", "list"))
    assert "admin@ovenai.local admin active" in listed and "dana@agency.co.il agent" in listed
    token = _ok(ovenai(checkout, "tokens", "create", "dana@agency.co.il")).strip()
    assert token.startswith("ovn_")
    assert "dana@agency.co.il" in _ok(ovenai(checkout, "tokens", "list"))
    (checkout / "leads.csv").write_text(f"name,phone\nמרים ברק,{PHONE}\n", encoding="utf-8")
    assert "imported 1" in _ok(ovenai(checkout, "leads", "import", "leads.csv"))
    exported = _ok(ovenai(checkout, "privacy", "export", PHONE))
    assert "מרים ברק" in exported
    assert "request" in _ok(ovenai(checkout, "privacy", "request", PHONE))
    assert _ok(ovenai(checkout, "privacy", "requests"))
    assert "erased lead" in _ok(ovenai(checkout, "privacy", "erase", PHONE, "--yes"))
    _ok(ovenai(checkout, "retention", "run", "--dry-run"))
    _ok(ovenai(checkout, "keys", "status"))
    assert "welcome_new_lead" in _ok(ovenai(checkout, "templates", "list"))
    _ok(ovenai(checkout, "templates", "export", "templates.json"))
    assert (checkout / "templates.json").stat().st_size > 0
    _ok(ovenai(checkout, "webhooks", "failed"))
    _ok(ovenai(checkout, "webhooks", "process"))
    _ok(ovenai(checkout, "sending", "resume"))


def test_services_and_production_never_read_the_sandboxs_settings(checkout: Path) -> None:
    worker = ovenai(checkout, "worker")
    assert worker.returncode == 78
    assert worker.stderr.strip().splitlines() == ["error: OVENAI_ENCRYPTION_KEYS is not set"]
    production = ovenai(checkout, "users", "list", OVENAI_ENV="production")
    assert production.returncode == 78
    assert NOTE not in production.stderr


def test_a_configured_checkout_uses_its_own_settings(checkout: Path) -> None:
    mine = ovenai(checkout, "users", "list", OVENAI_ENCRYPTION_KEYS="not a key list")
    assert mine.returncode != 0 and NOTE not in mine.stderr


def test_graph_commands_need_the_running_sandbox(checkout: Path) -> None:
    """The fixture's sandbox has stopped: `templates sync` says to start it, and calls
    nothing else (never Meta with the sandbox's token)."""
    recorded = json.loads((checkout / "var" / SANDBOX_URLS).read_text(encoding="utf-8"))
    for command in (["templates", "sync"], ["templates", "import", "missing.json"]):
        if command[1] == "import":
            (checkout / "missing.json").write_text("[]", encoding="utf-8")
        result = ovenai(checkout, *command)
        assert result.returncode == 69, (result.stdout, result.stderr)
        assert result.stderr.splitlines() == [
            NOTE,
            f"error: the sandbox's WhatsApp simulator does not answer at {recorded['simulator']}: "
            "start the sandbox with `make run` (in another terminal) and try again",
        ]


def _clean_environment(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.chdir(folder)  # no .env of the repository
    for key in os.environ:
        if key.startswith(OURS):
            monkeypatch.delenv(key)


def test_the_checkouts_commands_talk_to_the_recorded_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_environment(monkeypatch, tmp_path)
    data_dir = tmp_path / "var"
    load_settings(sandbox=True)  # the first `make run` generates the secrets
    default = load_settings(sandbox_checkout=True)
    assert default.sandbox and default.whatsapp_api_base_url == "http://127.0.0.1:8001"
    record_sandbox_urls(
        data_dir, product="http://127.0.0.1:9000", simulator="http://127.0.0.1:9001"
    )
    assert (data_dir / SANDBOX_URLS).stat().st_mode & 0o777 == 0o600
    recorded = load_settings(sandbox_checkout=True)
    assert recorded.whatsapp_api_base_url == "http://127.0.0.1:9001"
    assert recorded.whatsapp_business_account_id == "200000000000001"
    monkeypatch.setenv("WHATSAPP_API_BASE_URL", "http://127.0.0.1:7000")
    assert load_settings(sandbox_checkout=True).whatsapp_api_base_url == "http://127.0.0.1:7000"
    monkeypatch.delenv("WHATSAPP_API_BASE_URL")
    with pytest.raises(ConfigurationError, match="OVENAI_ENCRYPTION_KEYS is not set"):
        load_settings(sandbox_checkout=False)  # a service never reads the sandbox's files
    monkeypatch.setenv("OVENAI_ENV", "production")
    with pytest.raises(ConfigurationError, match="OVENAI_ENCRYPTION_KEYS is not set"):
        load_settings(sandbox_checkout=True)


def test_the_sandboxs_simulator_takes_the_next_port() -> None:
    assert simulator_port_for(8000, None) == 8001
    assert simulator_port_for(9000, 9500) == 9500
    assert simulator_port_for(0, None) == 0  # any free port for both


@pytest.mark.parametrize(
    ("variables", "command"),
    [
        ([], "--port 8000"),
        (["PORT=9000"], "--port 9000"),
        (["PORT=9000", "SIM_PORT=9500"], "--port 9000 --simulator-port 9500"),
    ],
)
def test_make_run_takes_the_ports(variables: list[str], command: str) -> None:
    """`make run PORT=...` moves both servers (the simulator on PORT + 1), SIM_PORT the other."""
    root = Path(__file__).resolve().parents[2]
    # Under `make test` the parent make's level and flags would make this one print
    # "Entering directory" around the command; the ports must come from the arguments only.
    outside = {"MAKELEVEL", "MAKEFLAGS", "MFLAGS", "PORT", "SIM_PORT"}
    env = {name: value for name, value in os.environ.items() if name not in outside}
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", ".venv/.installed", "run", *variables],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert dry.stdout.strip() == f".venv/bin/ovenai serve --sandbox {command}"
