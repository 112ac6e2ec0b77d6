"""The product as the fault drills run it: real ``ovenai serve`` and ``ovenai worker`` processes
on loopback, a fresh PostgreSQL database pair, a simulator, and Meta's side of the webhooks.

Nothing here patches the product: the processes are started as an operator starts them, with
their settings in the environment, and the drills count what they answer and what they store.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from ovenai import auth
from ovenai.crypto import generate_master_key
from ovenai.db import open_database, upgrade, upgrade_keystore
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign
from ovenai.models import Role
from ovenai.settings import Settings, load_settings
from ovenai.simulator import SimulatorConfig
from support.aio import run_async

OVENAI = str(Path(sys.executable).with_name("ovenai"))
FIGURES = Path(__file__).resolve().parents[2] / "var" / "drills"
OURS = ("OVENAI_", "WHATSAPP_", "DATABASE_URL", "REDIS_URL")
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
APP_SECRET = "drill-app-secret"
TOKEN = "drill-access-token"
PHONE_ID = "420000000000077"
WABA_ID = "310000000000077"
SIM = SimulatorConfig(
    access_token=TOKEN,
    app_secret=APP_SECRET,
    phone_number_id=PHONE_ID,
    business_account_id=WABA_ID,
    mps_cap=None,
    statuses=False,
    template_review_s=None,
    webhook_retry_base_s=0.05,
)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_reachable() -> bool:
    """Whether the machine's PostgreSQL answers (the drills that need it skip otherwise)."""
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True):
            return True
    except psycopg.Error:
        return False


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A fresh, migrated database and key store (``NAME`` and ``NAME_keys``); yields NAME."""
    name = f"ovenai_drill_{secrets.token_hex(4)}"
    names = (name, f"{name}_keys")
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        for each in names:
            conn.execute(f'CREATE DATABASE "{each}"')
    try:
        upgrade(pg_url(name, 5432))
        upgrade_keystore(pg_url(f"{name}_keys", 5432))
        yield name
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            for each in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{each}" WITH (FORCE)')


def pg_url(name: str, port: int, host: str = "127.0.0.1") -> str:
    """SQLAlchemy's URL of database ``name`` on ``host:port`` (loopback unless said)."""
    return f"postgresql+psycopg://postgres@{host}:{port}/{name}"


def drill_settings(database_url: str, keystore_url: str, data_dir: Path, sim_url: str) -> Settings:
    """Settings of the product under attack: fresh keys, sending to the simulator."""
    return load_settings(
        database_url=database_url,
        keystore_url=keystore_url,
        encryption_keys=generate_master_key(key_id="drill-1"),
        secret_key=secrets.token_urlsafe(32),
        data_dir=data_dir,
        whatsapp_app_secret=APP_SECRET,
        whatsapp_webhook_verify_token="drill-verify-token",
        whatsapp_access_token=TOKEN,
        whatsapp_phone_number_id=PHONE_ID,
        whatsapp_business_account_id=WABA_ID,
        whatsapp_api_base_url=sim_url,
        messaging_tier="unlimited",
    )


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a product process with these settings (nothing inherited of ours)."""
    kept = {key: value for key, value in os.environ.items() if not key.startswith(OURS)}
    return kept | {
        "DATABASE_URL": settings.database_url,
        "OVENAI_KEYSTORE_URL": settings.keystore_url or "",
        "OVENAI_ENCRYPTION_KEYS": settings.secret("encryption_keys"),
        "OVENAI_SECRET_KEY": settings.secret("secret_key"),
        "OVENAI_DATA_DIR": str(settings.data_dir),
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_WEBHOOK_VERIFY_TOKEN": "drill-verify-token",
        "WHATSAPP_ACCESS_TOKEN": TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
        "WHATSAPP_BUSINESS_ACCOUNT_ID": WABA_ID,
        "WHATSAPP_API_BASE_URL": settings.whatsapp_api_base_url,
        "OVENAI_MESSAGING_TIER": "unlimited",
        "OVENAI_MESSAGES_PER_SECOND": "1000",
        "OVENAI_PAIR_BURST": "45",
        "OVENAI_ACCESS_LOG": "false",
        # Quiet times are off in every process the tests start (tests/conftest.py).
        "OVENAI_QUIET_NIGHTS": "false",
        "OVENAI_QUIET_SHABBAT": "false",
        "OVENAI_QUIET_HOLIDAYS": "false",
        **extra,
    }


@dataclass
class Process:
    """A product process started by a drill, and its log."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """The process id (a drill checks it never changed)."""
        return self.popen.pid

    def alive(self) -> bool:
        """Whether it still runs."""
        return self.popen.poll() is None

    def tail(self, lines: int = 60) -> str:
        """The end of its log, for an assertion's message."""
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)


def start(
    name: str,
    arguments: list[str],
    env: dict[str, str],
    folder: Path,
    inside: Sequence[str] = (),
) -> Process:
    """``ovenai ARGUMENTS`` as a process of its own, its output in ``folder/NAME.log``
    (appended to: a restarted process keeps its predecessor's lines). ``inside``: a prefix
    that runs it on another host (``ip netns exec NAME``, which keeps the pid)."""
    log = folder / f"{name}.log"
    command = [*inside, OVENAI, *arguments]
    with log.open("ab") as out:
        popen = subprocess.Popen(command, env=env, cwd=folder, stdout=out, stderr=out)
    return Process(name, popen, log)


def wait_until_live(url: str, process: Process, timeout: float = 60.0) -> None:
    """Wait for ``/health/live`` of a started ``ovenai serve``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.alive(), f"{process.name} exited:\n{process.tail()}"
        try:
            if httpx.get(f"{url}/health/live", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{process.name} did not start within {timeout} s:\n{process.tail()}")


def start_serve(env: dict[str, str], folder: Path) -> tuple[Process, str]:
    """``ovenai serve`` on a free loopback port, live; the process and its URL."""
    port = free_port()
    serve = start("serve", ["serve", "--port", str(port)], env, folder)
    url = f"http://127.0.0.1:{port}"
    wait_until_live(url, serve)
    return serve, url


def sim_get(base_url: str, path: str) -> Any:
    """``GET /_sim/{path}`` of a simulator: its JSON answer."""
    answer = httpx.get(f"{base_url}/_sim/{path}", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def report(name: str, figures: dict[str, Any]) -> None:
    """A long form's figures: printed (``make drills`` runs with ``-s``) and kept in
    ``var/drills/NAME.json`` for bench/README.md "Fault drills"."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    (FIGURES / f"{name}.json").write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))
    print(f"\n{name}: {figures}")  # noqa: T201


def admin_token(settings: Settings) -> str:
    """An admin's API token, made directly in the database (before the drill starts)."""

    async def make() -> str:
        database = open_database(settings)
        try:
            await database.start()
            await auth.create_user(database, email="drill@example.co.il", role=Role.ADMIN)
            return (await auth.create_token(database, email="drill@example.co.il")).token
        finally:
            await database.dispose()

    return run_async(make)


# Meta's side: webhook bodies as Meta posts them, and a poster that retries as Meta does.

METADATA = {"display_phone_number": "97233760000", "phone_number_id": PHONE_ID}


def envelope(value: dict[str, Any]) -> bytes:
    """A webhook body of one ``messages`` change."""
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }
    return orjson.dumps(body)


def inbound_body(wa_id: str, wamid: str, text: str, ts: int) -> bytes:
    """One text message from ``wa_id``."""
    message = {"from": wa_id, "id": wamid, "timestamp": str(ts), "type": "text"}
    return envelope(
        {
            "messaging_product": "whatsapp",
            "metadata": METADATA,
            "contacts": [{"profile": {"name": "Noa"}, "wa_id": wa_id}],
            "messages": [{**message, "text": {"body": text}}],
        }
    )


def status_body(wamid: str, wa_id: str, status: str, ts: int) -> bytes:
    """One delivery status of an outbound message."""
    item = {"id": wamid, "recipient_id": wa_id, "status": status, "timestamp": str(ts)}
    return envelope({"messaging_product": "whatsapp", "metadata": METADATA, "statuses": [item]})


def signed(body: bytes) -> dict[str, str]:
    """The headers Meta sends with ``body``."""
    return {SIGNATURE_HEADER: sign(body, APP_SECRET), "Content-Type": "application/json"}


@dataclass
class Answers:
    """What a poster was answered, counted by status (0: no answer, a transport error)."""

    counts: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int) -> None:
        """Count one answer (posting threads share one count)."""
        with self._lock:
            self.counts[status] = self.counts.get(status, 0) + 1


def post_until_stored(
    client: httpx.Client, body: bytes, answers: Answers, *, deadline: float, pause_s: float = 0.2
) -> bool:
    """Post ``body`` until it is answered 200, as Meta retries (every answer counted);
    False if ``deadline`` (monotonic) passed first."""
    headers = signed(body)
    while time.monotonic() < deadline:
        try:
            status = client.post(WEBHOOK_PATH, content=body, headers=headers).status_code
        except httpx.TransportError:
            status = 0
        answers.add(status)
        if status == 200:
            return True
        time.sleep(pause_s * (0.5 + random.random()))
    return False
