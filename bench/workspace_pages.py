"""The agents' pages at volume: p50/p95/p99 of each page, and how soon a webhook shows.

A PostgreSQL database named ``ovenai_bench_pages`` gets the volume of :mod:`bench.volume`
(``--leads``, default 100,000; ``--messages``, default 1,000,000, over 30 days), then:
``--named`` of those leads (default 3,000) get a name and an Israeli mobile number (sealed,
with their name tokens, as the webhook bench's leads), 50 people sign in (5 admins, 45
agents; 90 % of the leads are assigned, to the agents in turn, the rest unassigned), stages
spread over the pipeline (30 % new, 30 % contacted, the rest further on), a fifth of the
leads want a city and a budget, 300 listings and 450 viewings this week. ``--reuse`` keeps
the database and its key store (in ``$TMPDIR/ovenai-bench-pages``; ``BENCH_PAGES_DB`` names
another database, its state beside) from an earlier run and
only migrates it, so one data set serves every run (a migration's backfill runs then).

Then a real ``ovenai serve`` on it (webhooks processed in serve, the default) and 50 httpx
clients on loopback, each signed in as one of the people, load in turn, with ``--think``
seconds between two pages as a person reading (exponential, that mean; 0: back to back).
The default, 1 s, is a stress: fifty people each opening a page a second (50 a second). A
person working leads reads a conversation and writes before the next page: ``--think 10``
(5 pages a second from the fifty) is nearer a real team. Each person starts after such a
pause too, so the fifty do not all ask at the same instant. The pages are: the inbox's first
page, its next page (by the first page's cursor), a search by phone digits and by name, the
"needs reply" filter, a stage, one of their leads with its conversation, the conversation's
poll (unchanged: 204), the pipeline, the week's viewings, the listings and one listing with
its matching leads. Each page's times (p50/p95/p99, milliseconds) are printed after
``--seconds`` (default 120) of load, after a warm-up round not counted.

Meanwhile "live update": every ``--gap`` seconds (default 0.5) a signed inbound text webhook
from a named lead is posted to serve while an admin's client waits on that lead's
conversation as the lead page does (``wait``: serve holds the question until the
conversation changes, ovenai.live): the time from the post to the answer with the new
message, ``--samples`` times (default 100).

    .venv/bin/python -m bench.workspace_pages                       # build and measure
    .venv/bin/python -m bench.workspace_pages --reuse               # measure again
    .venv/bin/python -m bench.workspace_pages --leads 10000 --messages 100000 --seconds 30

Target (issue 16): each page p95 < 100 ms, a live update < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
from sqlalchemy import select, text

from bench.process import box_speed_s, free_port
from bench.volume import seed
from bench.webhooks.bodies import WABA_ID, inbound_body, known_sender
from bench.webhooks.common import APP_SECRET, PG_ADMIN, PG_BASE, settings_from, signature
from ovenai import auth, phones
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database, open_database, upgrade, upgrade_keystore
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.keystore import generate_master_key
from ovenai.leads import seal_identity
from ovenai.meetings import MeetingCreate, create_meeting
from ovenai.models import Lead, LeadNameToken, Role
from ovenai.properties import PropertyCreate, create_property
from ovenai.sealing import LeadColumn, name_index

NAME = os.environ.get("BENCH_PAGES_DB", "ovenai_bench_pages")
"""The bench database (``BENCH_PAGES_DB``: another name keeps a data set of one's own beside
another engineer's on a shared PostgreSQL; it must begin ``ovenai_bench_``)."""
assert NAME.startswith("ovenai_bench_") and NAME.replace("_", "").isalnum(), NAME
STATE = Path(tempfile.gettempdir()) / NAME.replace("ovenai_bench_", "ovenai-bench-")
PASSWORD = "bench password, long enough"
ADMINS = 5
AGENTS = 45
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
CURSOR = re.compile(r"cursor=([A-Za-z0-9_-]+)")
VERSION = "X-Conversation-Version"
WAIT_S = 25  # as the lead page asks (ovenai.web.dashboard.lead_view.WAIT_SECONDS)
PHONE_ID = "420000000000002"  # the webhook bodies' metadata
ZONE = ZoneInfo("Asia/Jerusalem")
CITIES = ("תל אביב", "חיפה", "ירושלים", "רמת גן", "הרצליה", "נתניה")

SPREAD = """
UPDATE leads SET
  assigned_agent_id = CASE WHEN l % 10 = 0 THEN NULL ELSE 'pages-agent-' || (l % 45) END,
  stage = CASE WHEN l % 10 < 3 THEN 'new' WHEN l % 10 < 6 THEN 'contacted'
               WHEN l % 10 = 6 THEN 'viewing_scheduled' WHEN l % 10 = 7 THEN 'viewing_done'
               WHEN l % 20 = 8 THEN 'negotiation' WHEN l % 20 = 18 THEN 'contract'
               WHEN l % 20 = 9 THEN 'won' ELSE 'lost' END,
  engagement_score = (l * 37) % 101,
  want_city = CASE WHEN l % 5 = 0 THEN (ARRAY[{cities}])[1 + l % 6] END,
  want_budget_max = CASE WHEN l % 5 = 0 THEN 5000 + (l % 40) * 250 END,
  last_inbound_at = CASE WHEN l % 3 = 0 THEN now() - (l % 72) * interval '1 hour' END
FROM (SELECT id AS lid, id::bigint AS l FROM leads) AS n WHERE leads.id = n.lid
"""


def database_url() -> str:
    return f"{PG_BASE}/{NAME}"


def environment(reuse: bool) -> tuple[dict[str, str], bool]:
    """The bench database's settings, and whether it must be built (no usable one kept)."""
    saved = STATE / "env.json"
    if reuse and saved.exists():
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            there = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (NAME,))
            if there.fetchone():
                env: dict[str, str] = json.loads(saved.read_text())
                began = time.perf_counter()
                upgrade(env["DATABASE_URL"])  # a newer migration's backfill runs here
                print(f"migrated (if needed) in {time.perf_counter() - began:.1f} s")
                upgrade_keystore(env["OVENAI_KEYSTORE_URL"])
                return env, False
    saved.unlink(missing_ok=True)
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / "keys.db").unlink(missing_ok=True)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{NAME}"')
    env = {
        "OVENAI_ENCRYPTION_KEYS": generate_master_key(key_id="bench"),
        "OVENAI_SECRET_KEY": secrets.token_urlsafe(32),
        "OVENAI_KEYSTORE_URL": f"sqlite:///{STATE / 'keys.db'}",
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "OVENAI_DATA_DIR": str(STATE),
        "DATABASE_URL": database_url(),
    }
    upgrade(env["DATABASE_URL"])
    upgrade_keystore(env["OVENAI_KEYSTORE_URL"])
    return env, True


async def build(env: dict[str, str], args: argparse.Namespace) -> None:
    """The data set: the volume, names and phones, people, spread, listings and viewings."""
    db = open_database(settings_from(env))
    await db.start()
    try:
        took = await seed(db, leads=args.leads, messages=args.messages, days=30)
        print(f"seeded {args.messages:,} messages, {args.leads:,} leads in {took:.0f} s")
        began = time.perf_counter()
        await _people(db)
        print(f"people in {time.perf_counter() - began:.0f} s")
        cities = ", ".join(f"'{city}'" for city in CITIES)
        async with db.engine.begin() as connection:
            await connection.execute(text(SPREAD.format(cities=cities)))
        for start in range(1, args.leads + 1, 5000):  # every lead's data key, as a writer makes it
            ids = [lead_id(n) for n in range(start, min(start + 5000, args.leads + 1))]
            await db.vault.keys("lead", ids, create=True)
        print(f"spread and data keys in {time.perf_counter() - began:.0f} s")
        await _names(db, min(args.named, args.leads))
        print(f"names in {time.perf_counter() - began:.0f} s")
        await _listings(db, args.leads)
        async with db.engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
        print(f"people, names, listings and viewings in {time.perf_counter() - began:.0f} s")
    finally:
        await db.dispose()
    (STATE / "env.json").write_text(json.dumps(env))


def lead_id(n: int) -> str:
    """The seeded lead ``n`` (1-based), as bench.volume names it."""
    return f"{n:036d}"


def person(n: int) -> tuple[str, str]:
    """The ``n``-th person (0-based): their user id and e-mail; the first five are admins."""
    if n < ADMINS:
        return f"pages-admin-{n}", f"admin{n}@agency.co.il"
    return f"pages-agent-{n - ADMINS}", f"pages{n - ADMINS}@agency.co.il"


async def _people(db: Database) -> None:
    for n in range(ADMINS + AGENTS):
        user_id, email = person(n)
        role = Role.ADMIN if n < ADMINS else Role.AGENT
        user = await auth.create_user(db, email=email, role=role, password=PASSWORD)
        async with db.engine.begin() as connection:  # the ids the SQL spread names
            await connection.execute(
                text("UPDATE users SET id = :new WHERE id = :old"), {"new": user_id, "old": user.id}
            )


async def _names(db: Database, count: int) -> None:
    """Leads 1..count get known_sender(n - 1)'s identity: the webhooks' senders."""
    keys = await db.vault.lead_keys([lead_id(n + 1) for n in range(count)])
    for start in range(0, count, 500):
        async with db.session() as session:
            ids = [lead_id(n + 1) for n in range(start, min(start + 500, count))]
            found = {
                lead.id: lead
                for lead in await session.scalars(select(Lead).where(Lead.id.in_(ids)))
            }
            for n in range(start, min(start + 500, count)):
                sender = known_sender(n)
                lead = found[lead_id(n + 1)]
                values: dict[LeadColumn, str | None] = {
                    "bsuid": sender.bsuid,
                    "wa_id": sender.wa_id,
                    "phone": phones.from_wa_id(sender.wa_id),
                    "name": sender.name,
                    "profile_name": sender.name,
                }
                seal_identity(db.vault, lead, keys[lead.id], values)
                session.add_all(
                    LeadNameToken(lead_id=lead.id, token=token)
                    for token in sorted(name_index(db.vault, sender.name))
                )
            await session.commit()


async def _listings(db: Database, leads: int) -> None:
    actor = Actor.system()
    for n in range(300):
        data = PropertyCreate(
            city=CITIES[n % len(CITIES)],
            title=f"דירת {3 + n % 3} חדרים",
            rooms=3 + n % 3,
            price=5000 + (n % 40) * 250,
        )
        await create_property(db, actor=actor, data=data)
    monday = utcnow().replace(hour=7, minute=0, second=0, microsecond=0)
    for n in range(450):
        lead = 1 + (n * 211) % leads
        if lead % 10 == 0:  # an unassigned lead: the viewing is an admin's
            lead += 1
        starts = monday + timedelta(days=n % 6, hours=n % 10)
        meeting = MeetingCreate(
            lead_id=lead_id(lead), starts_at=starts, recorded_after=starts < utcnow()
        )
        await create_meeting(db, actor=actor, data=meeting, zone=ZONE)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Agent:
    """One signed-in person's client and the pages they load."""

    retried = 0  # requests sent again after serve closed their idle connection
    failed: Counter[str] = Counter()  # page and status of each unexpected answer

    def __init__(self, base: str, n: int, leads: int, named: int) -> None:
        self.n = n
        self.user_id, self.email = person(n)
        self.http = httpx.AsyncClient(base_url=base, timeout=600.0, follow_redirects=False)
        rng = random.Random(n)
        if n < ADMINS:
            own = [lead_id(1 + rng.randrange(named))]
        else:  # leads l with l % 45 == agent and l % 10 != 0, among the named ones
            agent = n - ADMINS
            own = [lead_id(k) for k in range(1, named + 1) if k % 45 == agent and k % 10][:5]
        self.lead = own[0]
        number = int(self.lead)
        self.phone_digits = known_sender(number - 1).wa_id[-6:]
        self.name = known_sender(number - 1).name.split()[0]
        self.pages: dict[str, str] = {}

    async def sign_in(self) -> None:
        token = CSRF.search((await self.http.get("/login")).text)
        assert token is not None
        form = {"email": self.email, "password": PASSWORD, "csrf": token.group(1)}
        answer = await self.http.post("/login", data=form)
        if answer.status_code != 303:
            raise SystemExit(f"{self.email} could not sign in: {answer.status_code}")

    async def discover(self, property_id: str) -> None:
        """The URLs: the cursor of the first inbox page, the conversation's version."""
        first = await self._get("/")
        found = CURSOR.search(first.text)
        conversation = await self._get(f"/leads/{self.lead}/conversation")
        self.pages = {
            "inbox": "/",
            "inbox next page": f"/?cursor={found.group(1)}" if found else "/",
            "search phone digits": f"/?q={self.phone_digits}",
            "search name": f"/?q={self.name}",
            "needs reply": "/?needs_reply=true",
            "stage": "/?stage=contacted",
            "lead page": f"/leads/{self.lead}",
            "conversation poll": (
                f"/leads/{self.lead}/conversation?version={conversation.headers.get(VERSION, '')}"
            ),
            "pipeline": "/pipeline",
            "meetings week": "/meetings?view=week",
            "properties": "/properties",
            "property matches": f"/properties/{property_id}",
        }

    async def _get(self, url: str) -> httpx.Response:
        try:
            return await self.http.get(url)
        except (httpx.RemoteProtocolError, httpx.ReadError):
            # A kept-alive connection serve closed (idle 5 s) as the request left: a browser
            # sends it again on a new connection, and so does this client (counted).
            Agent.retried += 1
            return await self.http.get(url)

    async def load(self, name: str) -> float:
        began = time.perf_counter()
        answer = await self._get(self.pages[name])
        took = (time.perf_counter() - began) * 1000
        wanted = 204 if name == "conversation poll" else 200
        if answer.status_code != wanted:  # counted and shown; the load goes on
            Agent.failed[f"{name} {answer.status_code}"] += 1
        return took


async def browse(
    agent: Agent, until: float, think: float, times: dict[str, list[float]] | None
) -> None:
    rng = random.Random(agent.n * 7 + 1)
    names = [name for name in agent.pages if name != "property matches"]
    if think:  # people do not all open a page at the same instant: each starts reading
        await asyncio.sleep(rng.expovariate(1 / think))
    while True:
        rng.shuffle(names)
        for name in names:
            if time.monotonic() > until:
                return
            took = await agent.load(name)
            if times is not None:
                times[name].append(took)
            await asyncio.sleep(rng.expovariate(1 / think) if think else 0)


async def live_updates(admin: Agent, named: int, samples: int, gap: float) -> list[float]:
    """From posting a lead's webhook to the page's waiting question answering with the new
    message, in ms (as static/lead.js asks: ``wait``, held by serve until the change)."""
    took: list[float] = []
    base = int(time.time() * 1000) % 10**12 * 10
    hook = httpx.AsyncClient(base_url=str(admin.http.base_url), timeout=30.0)
    rng = random.Random(99)
    for i in range(samples):
        n = rng.randrange(named)
        path = f"/leads/{lead_id(n + 1)}/conversation"
        before = (await admin.http.get(path)).headers[VERSION]
        asked: dict[str, str | int] = {"version": before, "wait": WAIT_S}
        waiting = asyncio.create_task(admin.http.get(path, params=asked, timeout=WAIT_S + 10))
        await asyncio.sleep(0.05)  # the page's question is held before the webhook comes
        raw = inbound_body("text", base + i, known_sender(n), int(time.time()))
        headers = {"X-Hub-Signature-256": signature(raw), "Content-Type": "application/json"}
        began = time.perf_counter()
        answer = await hook.post(WEBHOOK_PATH, content=raw, headers=headers)
        if answer.status_code != 200:
            raise SystemExit(f"the webhook was answered {answer.status_code}")
        polled = await waiting
        if polled.status_code != 200:
            raise SystemExit(f"a webhook's message did not show in {WAIT_S} s")
        took.append((time.perf_counter() - began) * 1000)
        await asyncio.sleep(gap)
    await hook.aclose()
    return took


async def measure(base: str, args: argparse.Namespace, property_id: str) -> None:
    named = min(args.named, args.leads)
    people = (0, ADMINS) if args.solo else range(ADMINS + AGENTS)
    agents = [Agent(base, n, args.leads, named) for n in people]
    for agent in agents:  # one after the other, as people arrive (a password hash each)
        await agent.sign_in()
    await asyncio.gather(*(agent.discover(property_id) for agent in agents))
    # Warm-up: every page once by an admin and an agent (plans, caches), not counted.
    for agent in (agents[0], agents[-1]):
        for name in agent.pages:
            if name != "property matches":  # timed alone, at the end
                await agent.load(name)
    times: dict[str, list[float]] = defaultdict(list)
    began = time.monotonic()
    until = began + args.seconds
    samples = 0 if args.solo else args.samples
    live = asyncio.create_task(live_updates(agents[0], named, samples, args.gap))
    if args.solo:  # one page at a time, the admin's then the agent's: each page alone
        for agent in agents:
            await browse(agent, began + (agents.index(agent) + 1) * args.seconds / 2, 0, times)
    else:
        await asyncio.gather(*(browse(agent, until, args.think, times) for agent in agents))
    loaded = sum(len(found) for found in times.values())
    elapsed = time.monotonic() - began
    updates = await live
    print(
        f"leads={args.leads:,} messages={args.messages:,} people={len(agents)} "
        f"think={args.think} s: {loaded:,} pages in {elapsed:.0f} s ({loaded / elapsed:.1f}/s); "
        f"box loop {box_speed_s()} s, load {os.getloadavg()[0]:.2f}; sent again after an idle"
        f" connection closed: {Agent.retried}; unexpected answers: {dict(Agent.failed)}"
    )
    print(f"| {'page':<22} | {'n':>5} | p50 ms | p95 ms | p99 ms |")
    print(f"|{'-' * 24}|{'-' * 7}|--------|--------|--------|")
    for name in agents[-1].pages:
        found = times[name]
        if not found:
            continue
        print(
            f"| {name:<22} | {len(found):>5} | {statistics.median(found):>6.0f} |"
            f" {percentile(found, 0.95):>6.0f} | {percentile(found, 0.99):>6.0f} |"
        )
    if updates:
        print(
            f"live update (webhook posted → poll answers with it), {len(updates)} samples: "
            f"p50 {statistics.median(updates):.0f} ms, p95 {percentile(updates, 0.95):.0f} ms, "
            f"max {max(updates):.0f} ms"
        )
    # A listing's matching leads weigh every visible lead: timed alone, after the load.
    for agent in (agents[0], agents[-1]) if args.matches_runs else ():
        found = [await agent.load("property matches") for _ in range(args.matches_runs)]
        role = "admin" if agent.n < ADMINS else "agent"
        print(
            f"property matches alone ({role}), {len(found)} runs: p50 "
            f"{statistics.median(found):.0f} ms, max {max(found):.0f} ms"
        )
    for agent in agents:
        await agent.http.aclose()


def run(args: argparse.Namespace) -> None:
    env, fresh = environment(args.reuse)
    if fresh:
        asyncio.run(build(env, args))
    else:
        saved = json.loads((STATE / "sizes.json").read_text())
        args.leads, args.messages, args.named = saved["leads"], saved["messages"], saved["named"]
    sizes = {"leads": args.leads, "messages": args.messages, "named": args.named}
    (STATE / "sizes.json").write_text(json.dumps(sizes))
    with psycopg.connect(PG_ADMIN.replace("dbname=postgres", f"dbname={NAME}")) as conn:
        row = conn.execute("SELECT id FROM properties ORDER BY id LIMIT 1").fetchone()
        assert row is not None
        property_id = str(row[0])
    port = free_port()
    full = dict(os.environ) | env
    full |= {
        "WHATSAPP_ACCESS_TOKEN": "bench-token",
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
        "WHATSAPP_BUSINESS_ACCOUNT_ID": WABA_ID,
        "WHATSAPP_API_BASE_URL": "http://127.0.0.1:9",  # nothing is sent: no worker runs
        "WHATSAPP_WEBHOOK_VERIFY_TOKEN": "bench-verify",
    }
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "ovenai"), "serve", "--port", str(port)],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=None if os.environ.get("BENCH_VERBOSE") else subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health/live").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("serve did not answer")
        asyncio.run(measure(base, args, property_id))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--named", type=int, default=3000)
    parser.add_argument("--reuse", action="store_true", help="the data set of the last run")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument(
        "--think", type=float, default=1.0, help="mean seconds between two pages of a person"
    )
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.5)
    parser.add_argument("--matches-runs", type=int, default=3)
    parser.add_argument("--solo", action="store_true", help="an admin, then an agent, alone")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
