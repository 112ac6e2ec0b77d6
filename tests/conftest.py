"""Shared fixtures: a fresh database per backend (SQLite always, PostgreSQL when reachable),
settings pointing at it, a real uvicorn server on loopback, and persona API clients.

Every database test runs twice, once per backend. PostgreSQL tests are skipped only when the
server at 127.0.0.1:5432 cannot be reached, and the skip says so.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from ovenai import auth
from ovenai.crypto import generate_master_key
from ovenai.db import Database, open_database, upgrade, upgrade_keystore
from ovenai.engines import sync_url
from ovenai.models import Base, Role
from ovenai.settings import Settings, load_settings
from ovenai.web.app import create_app
from support.aio import run_async
from support.browser import browser  # noqa: F401  (Debian's chromium, for every browser test)

PG_HOST = "127.0.0.1"
PG_ADMIN_DSN = f"host={PG_HOST} port=5432 user=postgres dbname=postgres connect_timeout=3"
KEEP_TABLES = {"alembic_version"}
# Quiet times hold marketing at night, on Shabbat and on holidays (ovenai.quiet_hours): no
# test may depend on the hour the suite runs at, so they are off here and in every process
# the tests start; the tests of quiet times turn them on themselves.
for _part in ("NIGHTS", "SHABBAT", "HOLIDAYS"):
    os.environ.setdefault(f"OVENAI_QUIET_{_part}", "false")

# `make mutation` (pyproject.toml: --hypothesis-profile mutation) runs each mutant's tests two
# at a time on a busy box: there a property test's example that takes over Hypothesis's 200 ms
# deadline, or draws slowly, is no finding about the code, yet it would fail the test and count
# as a kill. Examples still run. (It did not end every false kill: docs/testing.md.)
# A failing example is printed with the blob that replays it (@reproduce_failure).
hypothesis_settings.register_profile(
    "mutation", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
# `make mutation` names a folder here (scripts/mutation.py): the report of each test that fails
# against a mutant is written to `<folder>/<mutant>.txt`, so every kill can be read afterwards
# (mutmut sends the tests' output to /dev/null and keeps only their exit code).
MUTATION_FAILURES_ENV = "OVENAI_MUTATION_FAILURES"
TEST_APP_SECRET = "test-app-secret"
TEST_VERIFY_TOKEN = "test-verify-token"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _postgres_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_HOST}:5432 is unreachable ({exc.__class__.__name__})"


@dataclass(frozen=True)
class Databases:
    """The data database and the key store of one backend."""

    url: str
    keystore_url: str


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Databases]:
    """A fresh, migrated database and key store for this test session, per backend."""
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("db")
        pair = _sqlite_pair(folder)
        template = os.environ.get(SQLITE_TEMPLATE_ENV)
        if template:
            _copy_migrated(Path(template), folder)
        else:
            _migrate(pair)
        yield pair
        return
    reason = _postgres_reachable()
    if reason:
        pytest.skip(f"SKIPPING PostgreSQL half: {reason}")
    name = f"ovenai_test_{secrets.token_hex(4)}"
    names = (name, f"{name}_keys")
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        for each in names:
            conn.execute(f'CREATE DATABASE "{each}"')
    base = f"postgresql+psycopg://postgres@{PG_HOST}:5432"
    pair = Databases(f"{base}/{name}", f"{base}/{name}_keys")
    _migrate(pair)
    yield pair
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        for each in names:
            conn.execute(f'DROP DATABASE "{each}" WITH (FORCE)')


def _migrate(pair: Databases) -> None:
    upgrade(pair.url)
    upgrade_keystore(pair.keystore_url)


def _sqlite_pair(folder: Path) -> Databases:
    return Databases(f"sqlite:///{folder / 'ovenai.db'}", f"sqlite:///{folder / 'keys.db'}")


# `make mutation` runs the same tests once per mutant, each time a new pytest session: there,
# the SQLite pair is migrated once into this folder (scripts/mutation.py makes it empty for
# each run) and copied for every session after, instead of running every migration again.
SQLITE_TEMPLATE_ENV = "OVENAI_TEST_SQLITE_TEMPLATE"
_SQLITE_FILES = ("ovenai.db", "keys.db")


def _copy_migrated(template: Path, folder: Path) -> None:
    ready = template / "migrated"
    if not ready.exists():
        staging = Path(tempfile.mkdtemp(dir=template))
        _migrate(_sqlite_pair(staging))
        try:
            staging.rename(ready)  # atomic: a session racing this one keeps the first
        except OSError:
            shutil.rmtree(staging)
    for name in _SQLITE_FILES:
        shutil.copyfile(ready / name, folder / name)


@pytest.fixture(scope="session")
def database_url(databases: Databases) -> str:
    """The data database's URL."""
    return databases.url


@pytest.fixture(scope="session")
def settings(databases: Databases, tmp_path_factory: Any) -> Settings:
    """Settings for tests: explicit keys, the test databases, no sandbox."""
    data_dir: Path = tmp_path_factory.mktemp("var")
    return load_settings(
        database_url=databases.url,
        keystore_url=databases.keystore_url,
        encryption_keys=generate_master_key(key_id="test-1"),
        secret_key=secrets.token_urlsafe(32),
        data_dir=data_dir,
        whatsapp_app_secret=TEST_APP_SECRET,
        whatsapp_webhook_verify_token=TEST_VERIFY_TOKEN,
    )


# PostgreSQL's connections left idle for a while in the pools of databases earlier tests
# opened (the session's server keeps up to ten, and the in-process apps and workers of some
# tests more): each test starts without them, so a test that needs thirty at once (the
# sign-in bursts) is never refused by the server's connection limit. A pool notices its
# connection went (pool_pre_ping) and opens another when it needs one; a connection in use
# is never idle that long.
_IDLE_ELSEWHERE = text(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE datname = current_database() AND state = 'idle' AND pid <> pg_backend_pid()"
    " AND state_change < now() - interval '20 seconds'"
)


def _clean(url: str) -> None:
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in KEEP_TABLES:
                conn.execute(text(f"DELETE FROM {table.name}"))
        if conn.dialect.name == "postgresql":
            conn.execute(_IDLE_ELSEWHERE)
    engine.dispose()


@pytest.fixture
def clean_db(settings: Settings) -> Settings:
    """Empty every table (keys kept) so no test depends on another."""
    _clean(settings.database_url)
    return settings


@pytest.fixture
async def db(clean_db: Settings) -> Any:
    """A started Database in the test's event loop."""
    database = open_database(clean_db)
    await database.start()
    yield database
    await database.dispose()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Under `make mutation`, keep the report of a test that failed against a mutant."""
    folder = os.environ.get(MUTATION_FAILURES_ENV)
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")  # set by mutmut in each mutant's process
    if not folder or not report.failed or "__mutmut_" not in mutant:
        return
    with (Path(folder) / f"{mutant}.txt").open("a", encoding="utf-8") as record:
        record.write(f"{report.nodeid} ({report.when}, {report.duration:.1f} s)\n")
        record.write(f"{report.longreprtext}\n")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL has one driver: its tests run once, not once per SQLite driver."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        twice = params.get("worker_db") == "inline" and params.get("databases") == "postgresql"
        (dropped if twice else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=["default", "inline"])
async def worker_db(request: pytest.FixtureRequest, clean_db: Settings) -> Any:
    """A started Database as serve opens it (``default``: aiosqlite on SQLite) and, on
    SQLite, as ``ovenai worker`` does (``inline``: statements on the event loop's thread,
    ``ovenai.inline_sqlite``): the tests of what the worker runs (webhook processing, the
    outbox) take it as their ``db``."""
    inline = request.param == "inline"
    if inline and not clean_db.database_url.startswith("sqlite"):
        pytest.skip("inline statements are SQLite's (PostgreSQL has one driver)")
    database = open_database(clean_db, inline=inline)
    await database.start()
    yield database
    await database.dispose()


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A real uvicorn server in a background thread, on loopback."""

    def __init__(self, app: Any, **options: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", **options
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(settings: Settings) -> Iterator[LiveServer]:
    """The product served on loopback against the session's database."""
    with LiveServer(create_app(settings)) as live:
        yield live


@dataclass
class Persona:
    """A signed-in user with an API client."""

    user_id: str
    email: str
    client: httpx.Client


def _make_persona(settings: Settings, base_url: str, email: str, role: Role) -> Persona:
    async def make() -> tuple[str, str]:
        database: Database = open_database(settings)
        try:
            await database.start()
            user = await auth.create_user(database, email=email, role=role)
            issued = await auth.create_token(database, email=email)
            return user.id, issued.token
        finally:
            await database.dispose()

    user_id, token = run_async(make)
    headers = {"Authorization": f"Bearer {token}"}
    client = httpx.Client(base_url=base_url, headers=headers, timeout=10)
    return Persona(user_id=user_id, email=email, client=client)


@pytest.fixture
def personas(clean_db: Settings, server: LiveServer) -> Iterator[dict[str, Persona]]:
    """An admin, an agent and another agent, each with a client."""
    people = {
        "admin": _make_persona(clean_db, server.url, "admin@example.co.il", Role.ADMIN),
        "agent": _make_persona(clean_db, server.url, "dana@example.co.il", Role.AGENT),
        "other_agent": _make_persona(clean_db, server.url, "yossi@example.co.il", Role.AGENT),
    }
    yield people
    for persona in people.values():
        persona.client.close()


@pytest.fixture
def admin(personas: dict[str, Persona]) -> httpx.Client:
    return personas["admin"].client


@pytest.fixture
def agent(personas: dict[str, Persona]) -> httpx.Client:
    return personas["agent"].client


@pytest.fixture
def anonymous(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client
