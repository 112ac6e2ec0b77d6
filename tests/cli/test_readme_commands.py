"""Every `ovenai` command the README shows works in a `make run` checkout with nothing set.

One sandbox (`ovenai serve --sandbox`, what `make run` starts) runs in a tmp checkout for
the module; each command then runs there as a real process with nothing of OvenAI's in its
environment, so it reads the sandbox's generated settings from var/ and says so. The README
is parsed for every command it names (`ovenai GROUP COMMAND` and the table's `GROUP
COMMAND` spans); a command it names without a check here fails
:func:`test_every_command_the_readme_shows_is_checked`.
"""

from __future__ import annotations

import itertools
import json
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.core import TyperGroup

from ovenai import demo
from ovenai.cli import app

OVENAI = str(Path(sys.executable).with_name("ovenai"))
README = Path(__file__).resolve().parents[2] / "README.md"
OURS = ("OVENAI_", "WHATSAPP_", "DATABASE_URL", "REDIS_URL")
NOTE = "note: using the sandbox's settings in var/ (nothing configured)"
Path_ = tuple[str, ...]
_phones = itertools.count(1000)
_emails = itertools.count(1)


# --- what the README shows -------------------------------------------------------------------


def _tree() -> dict[str, Any]:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    return dict(root.commands)


def _resolve(span: str, tree: dict[str, Any]) -> set[Path_]:
    """The commands one README mention names (``alerts list`` · ``keys generate|rotate``)."""
    words = span.replace("\\|", "|").split()
    if not words or words[0] not in tree:
        return set()
    command = tree[words[0]]
    if not isinstance(command, TyperGroup):
        return {(words[0],)}
    named = {part.strip("[]()") for word in words[1:] for part in word.split("|")}
    return {(words[0], name) for name in named if name in command.commands}


def readme_commands() -> set[Path_]:
    """Every command the README names, as (group, command) or (command,)."""
    text, tree = README.read_text(encoding="utf-8"), _tree()
    found: set[Path_] = set()
    fences = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
    outside = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)
    mentions = [line for block in fences for line in block.splitlines()]
    mentions += [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", outside)]
    for mention in mentions:
        for match in re.finditer(r"(?:^|[\s/(])ovenai\s+(.*)", mention):
            found |= _resolve(match.group(1), tree)
    section = outside.split("\n## Command line", 1)[1].split("\n## ", 1)[0]
    for row in section.splitlines():
        if row.startswith("| `"):
            cell = re.split(r"(?<!\\)\|", row)[1]
            for span in re.findall(r"`([^`]+)`", cell):
                found |= _resolve(span.removeprefix("ovenai "), tree)
    return found


# --- the sandbox -----------------------------------------------------------------------------


def _environment(**values: str) -> dict[str, str]:
    kept = {key: value for key, value in os.environ.items() if not key.startswith(OURS)}
    return kept | values


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _two_free_ports() -> int:
    """A port P with P + 1 free too (the sandbox's simulator takes the next port)."""
    for _ in range(50):
        port = _free_port()
        if port < 65535:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise AssertionError("no two consecutive free ports")


def _wait_for(url: str, process: subprocess.Popen[str], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, process.communicate()
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.2)


@dataclass
class Sandbox:
    """A running `make run` sandbox in a tmp checkout, and the commands run there."""

    folder: Path
    port: int
    token: str
    first_lines: list[str]

    @property
    def simulator(self) -> str:
        return f"http://127.0.0.1:{self.port + 1}"

    def run(
        self, *args: str, stdin: str = "", **environment: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OVENAI, *args],
            input=stdin,
            env=_environment(**environment),
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def ok(self, *args: str, stdin: str = "") -> str:
        """Run a command that reads the sandbox's settings; its standard output."""
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert result.stderr.splitlines()[:1] == [NOTE], result.stderr
        return result.stdout

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v1{path}", data=data, method=method
        )
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def control(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(
            self.simulator + path, data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def new_lead(self) -> tuple[str, str]:
        """A lead added through the API: its id and phone."""
        phone = f"+9725266{next(_phones):05d}"
        lead = self.api("POST", "/leads", {"name": "מרים ברק", "phone": phone})
        return str(lead["id"]), phone

    def new_user(self) -> str:
        """An agent added through the API (`users create` has its own check)."""
        email = f"agent{next(_emails)}@agency.co.il"
        self.api("POST", "/users", {"email": email, "password": "a long enough password"})
        return email


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """`ovenai serve --sandbox --port P` in a tmp checkout, running for the whole module."""
    folder = tmp_path_factory.mktemp("checkout")
    port = _two_free_ports()
    log = (folder / "sandbox.log").open("w", encoding="utf-8")
    process = subprocess.Popen(
        [OVENAI, "serve", "--sandbox", "--port", str(port)],
        env=_environment(),
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        try:
            _wait_for(f"http://127.0.0.1:{port + 1}/_sim/config", process)
            _wait_for(f"http://127.0.0.1:{port}/health", process)
        except AssertionError:
            raise AssertionError((folder / "sandbox.log").read_text()[-3000:]) from None
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("OvenAI (sandbox) on"):
            lines.append(process.stdout.readline().strip())
        # A new database opens onto the demo agency, added once both servers answer: wait
        # for it, or its reset would empty the business tables under the first checks.
        demo_line = process.stdout.readline().strip()
        assert demo_line.startswith("demo ready:"), demo_line
        token = next(line.split()[-1] for line in lines if line.startswith("API token"))
        yield Sandbox(folder=folder, port=port, token=token, first_lines=lines)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
        log.close()


# --- one check per command -------------------------------------------------------------------

CHECKS: dict[Path_, Callable[[Sandbox], None]] = {}


def check(*path: str) -> Callable[[Callable[[Sandbox], None]], Callable[[Sandbox], None]]:
    def register(function: Callable[[Sandbox], None]) -> Callable[[Sandbox], None]:
        CHECKS[path] = function
        return function

    return register


def _refused_as_a_service(sandbox: Sandbox, *args: str) -> None:
    """Services never read the sandbox's settings (they would talk to Meta with them)."""
    result = sandbox.run(*args)
    assert result.returncode == 78, (result.stdout, result.stderr)
    assert result.stderr.strip().splitlines() == ["error: OVENAI_ENCRYPTION_KEYS is not set"]


@check("serve")
def _serve(sandbox: Sandbox) -> None:
    # `serve --sandbox` is the fixture: the simulator on the next port, printed at start.
    assert sandbox.first_lines[-1] == (
        f"OvenAI (sandbox) on http://127.0.0.1:{sandbox.port}; "
        f"WhatsApp simulator on {sandbox.simulator}"
    )
    _refused_as_a_service(sandbox, "serve", "--port", str(_free_port()))


@check("worker")
def _worker(sandbox: Sandbox) -> None:
    _refused_as_a_service(sandbox, "worker")


@check("simulator")
def _simulator(sandbox: Sandbox) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [OVENAI, "simulator", "--port", str(port)],
        env=_environment(),
        cwd=sandbox.folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/_sim/config", process)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        assert out.startswith(f"WhatsApp simulator on http://127.0.0.1:{port}")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


@check("demo", "reset")
def _demo_reset(sandbox: Sandbox) -> None:
    out = sandbox.ok("demo", "reset", "--delay", "0.2")
    assert out.startswith(
        f"demo ready: {len(demo.LISTINGS)} listings, {len(demo.LEADS) + 1} leads, "
    ), out
    # A lead who writes in is greeted, and the scripted lead answers the greeting.
    lead, _opener = demo.OPENERS[0]
    answer = demo.SCRIPTS[(lead.script, lead.language)][0]
    deadline = time.monotonic() + 60
    while True:
        found = sandbox.api("GET", f"/leads?phone=%2B{lead.wa_id}")["items"]
        said = [m["text"] for m in sandbox.api("GET", f"/leads/{found[0]['id']}/messages")]
        if answer in said:
            break
        assert time.monotonic() < deadline, said
        time.sleep(0.2)


@check("kpis")
def _kpis(sandbox: Sandbox) -> None:
    assert isinstance(json.loads(sandbox.ok("kpis", "--days", "7", "--json")), dict)


@check("db", "upgrade")
def _db_upgrade(sandbox: Sandbox) -> None:
    sandbox.ok("db", "upgrade")


def _second_checkout(sandbox: Sandbox) -> Sandbox:
    """Another checkout with the sandbox's generated secrets and a fresh database."""
    folder = sandbox.folder / f"second-{next(_emails)}"
    (folder / "var").mkdir(parents=True)
    secrets = sandbox.folder / "var" / "sandbox-secrets.json"
    (folder / "var" / "sandbox-secrets.json").write_bytes(secrets.read_bytes())
    second = Sandbox(folder=folder, port=sandbox.port, token="", first_lines=[])
    second.ok("db", "upgrade")
    return second


@check("db", "current")
def _db_current(sandbox: Sandbox) -> None:
    assert sandbox.ok("db", "current").startswith("database: ")


@check("db", "downgrade")
def _db_downgrade(sandbox: Sandbox) -> None:
    # Not under the running sandbox: in a checkout of its own.
    second = _second_checkout(sandbox)
    newest = second.ok("db", "current").split()[-1]
    second.ok("db", "downgrade", "-1")
    assert second.ok("db", "current").split()[1] != newest + ";"
    second.ok("db", "upgrade")


@check("db", "backup")
@check("db", "restore")
@check("privacy", "replay-erasures")
def _backup_restore_replay(sandbox: Sandbox) -> None:
    # A lead, a backup, then the lead erased: restored elsewhere it is back, until the
    # erasure journal is replayed there.
    lead_id, phone = sandbox.new_lead()
    backup = sandbox.folder / f"backup-{next(_emails)}"
    assert "backup taken at" in sandbox.ok("db", "backup", str(backup))
    sandbox.ok("privacy", "erase", phone, "--yes")
    folder = sandbox.folder / f"restored-{next(_emails)}"
    (folder / "var").mkdir(parents=True)
    secrets = sandbox.folder / "var" / "sandbox-secrets.json"
    (folder / "var" / "sandbox-secrets.json").write_bytes(secrets.read_bytes())
    restored = Sandbox(folder=folder, port=sandbox.port, token="", first_lines=[])
    assert "restored the backup taken at" in restored.ok("db", "restore", str(backup))
    journal = sandbox.folder / "var" / "erasures.journal"
    replayed = restored.ok("privacy", "replay-erasures", "--journal", str(journal))
    assert f"\n  {lead_id}\n" in replayed, replayed  # erased again
    again = restored.ok("privacy", "replay-erasures", "--journal", str(journal))
    assert "erased again: 0" in again, again


@check("golive", "check")
def _golive_check(sandbox: Sandbox) -> None:
    result = sandbox.run("golive", "check")  # the sandbox's simulator plays Meta
    assert result.returncode == 1, (result.stdout, result.stderr)  # a sandbox is no production
    assert "[ok  ] access token: valid" in result.stdout, result.stdout
    assert "[ok  ] webhook subscription" in result.stdout, result.stdout
    assert "[FAIL] configuration: OVENAI_ENV" in result.stdout, result.stdout


@check("golive", "subscribe")
@check("golive", "register")
def _golive_subscribe_register(sandbox: Sandbox) -> None:
    assert "subscribed" in sandbox.ok("golive", "subscribe")
    assert "registered" in sandbox.ok("golive", "register", "--pin", "123456")


@check("golive", "smoke")
def _golive_smoke(sandbox: Sandbox) -> None:
    out = sandbox.ok("golive", "smoke", "--to", "+972501110999", "--wait", "30")
    assert "delivered: the webhook brought the statuses back" in out, out


@check("check-config")
def _check_config(sandbox: Sandbox) -> None:
    result = sandbox.run("check-config")  # a sandbox is no production configuration
    assert result.returncode == 78, (result.stdout, result.stderr)
    assert "must not run production" in result.stdout + result.stderr


@check("users", "create")
def _users_create(sandbox: Sandbox) -> None:
    email = f"dana{next(_emails)}@agency.co.il"
    out = sandbox.ok(
        "users", "create", email, "--role", "admin", "--name", "דנה", "--password-stdin",
        stdin="a long enough password\n",
    )  # fmt: skip
    assert f"created admin {email}" in out
    api_only = f"api{next(_emails)}@agency.co.il"
    assert f"created agent {api_only}" in sandbox.ok("users", "create", api_only, "--no-password")


@check("users", "list")
def _users_list(sandbox: Sandbox) -> None:
    email = sandbox.new_user()
    listed = sandbox.ok("users", "list")
    assert "admin@ovenai.local admin active" in listed and f"{email} agent active" in listed


@check("users", "disable")
def _users_disable(sandbox: Sandbox) -> None:
    email = sandbox.new_user()
    sandbox.ok("users", "disable", email)
    assert f"{email} agent disabled" in sandbox.ok("users", "list")


@check("users", "enable")
def _users_enable(sandbox: Sandbox) -> None:
    email = sandbox.new_user()
    sandbox.ok("users", "disable", email)
    sandbox.ok("users", "enable", email)
    assert f"{email} agent active" in sandbox.ok("users", "list")


@check("users", "reset-password")
def _users_reset_password(sandbox: Sandbox) -> None:
    email = sandbox.new_user()
    sandbox.ok(
        "users", "reset-password", email, "--password-stdin", stdin="another long password\n"
    )
    assert f"{email} agent active" in sandbox.ok("users", "list")


@check("users", "unlock")
def _users_unlock(sandbox: Sandbox) -> None:
    email = sandbox.new_user()
    assert f"unlocked {email}" in sandbox.ok("users", "unlock", email)


@check("users", "sessions")
def _users_sessions(sandbox: Sandbox) -> None:
    email = sandbox.new_user()
    sandbox.ok("users", "sessions", email)
    sandbox.ok("users", "sessions", email, "--end")


@check("tokens", "create")
def _tokens_create(sandbox: Sandbox) -> None:
    email = sandbox.new_user()
    token = sandbox.ok("tokens", "create", email, "--name", "laptop").strip()
    assert token.startswith("ovn_")
    request = urllib.request.Request(f"http://127.0.0.1:{sandbox.port}/api/v1/leads")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as answer:  # the token opens the API
        assert answer.status == 200


@check("tokens", "list")
def _tokens_list(sandbox: Sandbox) -> None:
    email = sandbox.new_user()
    sandbox.ok("tokens", "create", email)
    assert email in sandbox.ok("tokens", "list")


@check("tokens", "revoke")
def _tokens_revoke(sandbox: Sandbox) -> None:
    email = sandbox.new_user()
    sandbox.ok("tokens", "create", email, "--name", "to-revoke")
    line = next(row for row in sandbox.ok("tokens", "list").splitlines() if email in row)
    token_id = line.split()[0]
    sandbox.ok("tokens", "revoke", token_id)


@check("alerts", "list")
def _alerts_list(sandbox: Sandbox) -> None:
    sandbox.ok("alerts", "list")
    sandbox.ok("alerts", "list", "--all", "--limit", "5")


@check("alerts", "ack")
def _alerts_ack(sandbox: Sandbox) -> None:
    """Meta refuses the token once (190): an alert is raised and sending pauses."""
    sandbox.control("/_sim/faults", {"errors": [{"code": 190, "count": 1}]})
    lead_id, _ = sandbox.new_lead()
    send = {"template": "welcome_new_lead", "params": ["מרים", "חיפה"]}
    sandbox.api("POST", f"/leads/{lead_id}/messages", send)
    deadline = time.monotonic() + 60
    while "whatsapp_access_token" not in (listed := sandbox.ok("alerts", "list")):
        assert time.monotonic() < deadline, listed
        time.sleep(0.5)
    alert_id = next(line.split()[1] for line in listed.splitlines() if "access_token" in line)
    sandbox.ok("alerts", "ack", alert_id)
    sandbox.ok("sending", "resume")


@check("alerts", "test")
def _alerts_test(sandbox: Sandbox) -> None:
    result = sandbox.run("alerts", "test")
    assert result.returncode == 1  # the sandbox configures no notifier, and says so
    assert "no notifier is configured" in result.stdout + result.stderr


@check("sending", "resume")
def _sending_resume(sandbox: Sandbox) -> None:
    sandbox.ok("sending", "resume")


@check("leads", "import")
def _leads_import(sandbox: Sandbox) -> None:
    phone = f"+9725266{next(_phones):05d}"
    (sandbox.folder / "leads.csv").write_text(f"name,phone\nיעל כהן,{phone}\n", encoding="utf-8")
    sandbox.ok("leads", "import", "leads.csv")
    found = sandbox.api("GET", f"/leads?phone={phone.removeprefix('+')}")["items"]
    assert [lead["name"] for lead in found] == ["יעל כהן"]


@check("leads", "consent")
def _leads_consent(sandbox: Sandbox) -> None:
    lead_id, _ = sandbox.new_lead()
    sandbox.ok("leads", "consent", lead_id, "--opt-out")
    assert "opted out" in sandbox.ok("leads", "consent", lead_id).lower()


@check("leads", "score")
def _leads_score(sandbox: Sandbox) -> None:
    lead_id, _ = sandbox.new_lead()
    assert sandbox.ok("leads", "score", lead_id, "--limit", "5")


@check("automation", "rules")
def _automation_rules(sandbox: Sandbox) -> None:
    assert "greet_new_api_lead" in sandbox.ok("automation", "rules")


@check("automation", "show")
def _automation_show(sandbox: Sandbox) -> None:
    title, definition = sandbox.ok("automation", "show", "notify_agent_on_silence").split("\n", 1)
    assert title.startswith("notify_agent_on_silence (enabled)")
    assert json.loads(definition)["trigger"]


@check("automation", "disable")
def _automation_disable(sandbox: Sandbox) -> None:
    sandbox.ok("automation", "disable", "notify_agent_on_silence")
    sandbox.ok("automation", "enable", "notify_agent_on_silence")


@check("automation", "enable")
def _automation_enable(sandbox: Sandbox) -> None:
    sandbox.ok("automation", "enable", "notify_agent_on_silence")


@check("automation", "seed")
def _automation_seed(sandbox: Sandbox) -> None:
    assert "added 0 rules" in sandbox.ok("automation", "seed")


@check("automation", "log")
def _automation_log(sandbox: Sandbox) -> None:
    sandbox.ok("automation", "log", "--limit", "5")


@check("automation", "enrolments")
def _automation_enrolments(sandbox: Sandbox) -> None:
    sandbox.ok("automation", "enrolments")


def _campaigned_listing(sandbox: Sandbox) -> str:
    """A new Haifa listing and a lead (opted in) it suits: its id (campaigns)."""
    phone = f"+9725266{next(_phones):05d}"
    words = "כן, אשמח לקבל עדכונים על נכסים"
    lead = {"name": "רון", "phone": phone, "want_city": "חיפה", "marketing_basis": "opt_in"}
    sandbox.api("POST", "/leads", lead | {"consent_words": words})
    listing = {"city": "חיפה", "rooms": 4, "size_m2": 100, "price": 1_950_000}
    return str(sandbox.api("POST", "/properties", listing)["id"])


def _campaign(sandbox: Sandbox, *options: str) -> str:
    """A started (or, with --draft, a draft) campaign of a new listing: its id."""
    return sandbox.ok("campaigns", "start", _campaigned_listing(sandbox), *options).split()[0]


@check("campaigns", "preview")
def _campaigns_preview(sandbox: Sandbox) -> None:
    assert "would send property_details to" in sandbox.ok(
        "campaigns", "preview", _campaigned_listing(sandbox)
    )


@check("campaigns", "start")
def _campaigns_start(sandbox: Sandbox) -> None:
    listing = _campaigned_listing(sandbox)
    assert "draft" in sandbox.ok("campaigns", "start", listing, "--draft")
    started = sandbox.ok("campaigns", "start", listing)
    assert "running" in started or "done" in started  # the sandbox's worker may be quick


@check("campaigns", "start-draft")
def _campaigns_start_draft(sandbox: Sandbox) -> None:
    started = sandbox.ok("campaigns", "start-draft", _campaign(sandbox, "--draft"))
    assert "running" in started or "done" in started


def _changed_or_refused(sandbox: Sandbox, action: str, campaign_id: str, *states: str) -> None:
    """The change, or (the sandbox's worker sent everything first) its refusal."""
    result = sandbox.run("campaigns", action, campaign_id)
    said = result.stdout + result.stderr
    assert any(state in result.stdout for state in states) or "cannot be" in said, said


@check("campaigns", "pause")
def _campaigns_pause(sandbox: Sandbox) -> None:
    _changed_or_refused(sandbox, "pause", _campaign(sandbox), "paused")


@check("campaigns", "resume")
def _campaigns_resume(sandbox: Sandbox) -> None:
    campaign_id = _campaign(sandbox)
    sandbox.run("campaigns", "pause", campaign_id)
    _changed_or_refused(sandbox, "resume", campaign_id, "running", "done")


@check("campaigns", "cancel")
def _campaigns_cancel(sandbox: Sandbox) -> None:
    assert "cancelled" in sandbox.ok("campaigns", "cancel", _campaign(sandbox, "--draft"))


@check("campaigns", "report")
def _campaigns_report(sandbox: Sandbox) -> None:
    report = sandbox.ok("campaigns", "report", _campaign(sandbox))
    # The totals add up (the demo agency's Haifa leads without a basis are excluded).
    totals = re.search(r"^recipients (\d+) = (.*); replied \d+$", report, re.M)
    assert totals is not None, report
    parts = dict(part.split() for part in totals.group(2).split(" + "))
    assert int(totals.group(1)) == sum(int(n) for n in parts.values()) >= 1, report
    assert parts["cancelled"] == "0", report


@check("campaigns", "list")
def _campaigns_list(sandbox: Sandbox) -> None:
    campaign_id = _campaign(sandbox, "--draft")
    assert campaign_id in sandbox.ok("campaigns", "list")


@check("templates", "list")
def _templates_list(sandbox: Sandbox) -> None:
    assert "welcome_new_lead_he" in sandbox.ok("templates", "list")


@check("templates", "check")
def _templates_check(sandbox: Sandbox) -> None:
    result = sandbox.run("templates", "check")
    assert result.returncode == 0 and "8 of 8 pass" in result.stdout, result.stderr


@check("templates", "sync")
def _templates_sync(sandbox: Sandbox) -> None:
    # The sandbox's simulator, found through var/ (never Meta with the sandbox's token).
    assert "synced 8 templates of WABA 200000000000001" in sandbox.ok("templates", "sync")


@check("templates", "export")
def _templates_export(sandbox: Sandbox) -> None:
    sandbox.ok("templates", "export", "export.json")
    assert len(json.loads((sandbox.folder / "export.json").read_text(encoding="utf-8")))


@check("templates", "import")
def _templates_import(sandbox: Sandbox) -> None:
    sandbox.ok("templates", "export", "to-import.json")
    assert "submitted 0, skipped 8" in sandbox.ok("templates", "import", "to-import.json")


@check("templates", "submit")
def _templates_submit(sandbox: Sandbox) -> None:
    out = sandbox.ok(
        "templates", "submit", "readme_check_he", "--language", "he", "--category", "UTILITY",
        "--body", "שלום {{1}}, הצפייה נקבעה ונשמח לראותך", "--example", "דנה",
    )  # fmt: skip
    assert "submitted readme_check_he (he) to WABA 200000000000001: PENDING" in out


@check("intents", "classify")
def _intents_classify(sandbox: Sandbox) -> None:
    assert "wants_viewing" in sandbox.run("intents", "classify", "אפשר לתאם צפייה מחר?").stdout


@check("intents", "evaluate")
def _intents_evaluate(sandbox: Sandbox) -> None:
    result = sandbox.run("intents", "evaluate")
    assert result.returncode == 0 and "opt-out" in result.stdout


@check("webhooks", "replay")
def _webhooks_replay(sandbox: Sandbox) -> None:
    sandbox.control("/_sim/inbound", {"from": f"9725266{next(_phones):05d}", "text": "שלום"})
    assert "replayed" in sandbox.ok("webhooks", "replay", "--since", "2h")
    assert "replayed" in sandbox.ok("webhooks", "replay", "--failed")


@check("webhooks", "process")
def _webhooks_process(sandbox: Sandbox) -> None:
    sandbox.ok("webhooks", "process")


@check("webhooks", "failed")
def _webhooks_failed(sandbox: Sandbox) -> None:
    sandbox.ok("webhooks", "failed", "--since", "2h", "--limit", "5")


@check("privacy", "export")
def _privacy_export(sandbox: Sandbox) -> None:
    lead_id, phone = sandbox.new_lead()
    assert "מרים ברק" in sandbox.ok("privacy", "export", phone)
    assert lead_id in sandbox.ok("privacy", "export", lead_id, "--by", "lead_id")
    piped = subprocess.run(  # a zip through a pipe is fine
        [OVENAI, "privacy", "export", phone, "--format", "csv"],
        env=_environment(),
        cwd=sandbox.folder,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0 and piped.stdout.startswith(b"PK\x03\x04")
    sandbox.ok("privacy", "export", phone, "--format", "csv", "--output", "export.zip")
    assert (sandbox.folder / "export.zip").read_bytes().startswith(b"PK\x03\x04")
    # ... but never onto a terminal: a clear line and exit code 2, nothing written.
    leader, follower = pty.openpty()
    try:
        refused = subprocess.run(
            [OVENAI, "privacy", "export", phone, "--format", "csv"],
            env=_environment(),
            cwd=sandbox.folder,
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
        os.set_blocking(leader, False)
        try:
            on_terminal = os.read(leader, 65536)
        except BlockingIOError:
            on_terminal = b""
    finally:
        os.close(follower)
        os.close(leader)
    assert refused.returncode == 2
    assert refused.stderr.decode().strip() == (
        "error: the CSV export (a zip file) is binary and standard output is a terminal: "
        "give --output FILE or redirect the output (> FILE)"
    )
    assert b"PK" not in on_terminal


@check("privacy", "erase")
def _privacy_erase(sandbox: Sandbox) -> None:
    lead_id, phone = sandbox.new_lead()
    assert f"erased lead {lead_id}" in sandbox.ok("privacy", "erase", phone, "--yes")


@check("privacy", "request")
def _privacy_request(sandbox: Sandbox) -> None:
    _, phone = sandbox.new_lead()
    assert "(erasure) due" in sandbox.ok("privacy", "request", phone, "--kind", "erasure")


@check("privacy", "requests")
def _privacy_requests(sandbox: Sandbox) -> None:
    _, phone = sandbox.new_lead()
    sandbox.ok("privacy", "request", phone)
    assert "access" in sandbox.ok("privacy", "requests")


@check("retention", "run")
def _retention_run(sandbox: Sandbox) -> None:
    assert "would delete" in sandbox.ok("retention", "run", "--dry-run")
    assert "deleted" in sandbox.ok("retention", "run")


@check("keys", "generate")
def _keys_generate(sandbox: Sandbox) -> None:
    result = sandbox.run("keys", "generate")
    assert result.returncode == 0 and re.fullmatch(r"\S+:\S+\n", result.stdout)


@check("keys", "rotate")
def _keys_rotate(sandbox: Sandbox) -> None:
    assert "rotation complete" in sandbox.ok("keys", "rotate", "--batch-size", "100")


@check("keys", "status")
def _keys_status(sandbox: Sandbox) -> None:
    assert "data keys" in sandbox.ok("keys", "status")


@check("keys", "retire")
def _keys_retire(sandbox: Sandbox) -> None:
    assert "old-1 wraps no data key" in sandbox.ok("keys", "retire", "old-1")


@check("keys", "vacuum")
def _keys_vacuum(sandbox: Sandbox) -> None:
    assert "key store rewritten" in sandbox.ok("keys", "vacuum")


# --- the tests -------------------------------------------------------------------------------


def test_every_command_the_readme_shows_is_checked() -> None:
    shown = readme_commands()
    assert ("templates", "submit") in shown and ("keys", "vacuum") in shown  # the parser reads
    assert not shown - set(CHECKS), f"README commands without a check: {shown - set(CHECKS)}"


def test_every_check_is_of_a_command_that_exists() -> None:
    tree = _tree()
    for path in CHECKS:
        command = tree[path[0]]
        if len(path) == 2:
            assert isinstance(command, TyperGroup) and path[1] in command.commands, path


@pytest.mark.parametrize("path", list(CHECKS), ids=" ".join)
def test_the_readme_command_works_in_the_sandbox(path: Path_, sandbox: Sandbox) -> None:
    CHECKS[path](sandbox)
