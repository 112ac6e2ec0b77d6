"""deploy/: the example environment names every setting, and the compose file, the systemd
units, the Dockerfile and the nginx site parse and start commands that exist.

No Docker daemon (nor the compose plugin) runs here, so compose.yaml is checked as YAML;
the units with `systemd-analyze verify`; the nginx site with `nginx -t` where nginx is
installed (Debian's package), and by its directives everywhere.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from ovenai import config_check
from ovenai.cli import app
from ovenai.cli.serving import KEEP_ALIVE_S, SERVER_OPTIONS
from ovenai.crypto import generate_master_key
from ovenai.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
EXAMPLE = DEPLOY / "production.env.example"
SETTING = re.compile(r"^#?([A-Z][A-Z0-9_]+)=(.*)$")
TODAY = date(2026, 12, 6)


def example_values() -> dict[str, tuple[str, bool]]:
    """NAME -> (value, commented out) of the example file."""
    found: dict[str, tuple[str, bool]] = {}
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = SETTING.match(line)
        if match:
            found[match.group(1)] = (match.group(2), line.startswith("#"))
    return found


def every_setting() -> set[str]:
    return {str(f.alias) for f in Settings.model_fields.values() if f.alias}


def test_the_example_names_every_setting_and_nothing_else() -> None:
    named = set(example_values())
    assert every_setting() - named == set(), "settings missing from production.env.example"
    assert named - every_setting() == set(), "names in the example that are no setting"


def test_every_setting_in_the_example_is_explained() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        match = SETTING.match(line)
        if not match:
            continue
        above = [x for x in lines[:index] if x.strip()][-8:]
        assert any(x.startswith("# ") for x in above), f"{match.group(1)} has no comment"


def test_the_example_filled_in_is_fit_for_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in every_setting():
        monkeypatch.delenv(name, raising=False)
    filled = {
        "OVENAI_ENCRYPTION_KEYS": generate_master_key(),
        "OVENAI_SECRET_KEY": "k" * 43,
        "WHATSAPP_ACCESS_TOKEN": "EAAG-production-token",
        "WHATSAPP_PHONE_NUMBER_ID": "109876543210001",
        "WHATSAPP_BUSINESS_ACCOUNT_ID": "209876543210001",
        "WHATSAPP_APP_SECRET": "0123456789abcdef0123456789abcdef",
        "WHATSAPP_WEBHOOK_VERIFY_TOKEN": "verify-me-please",
    }
    for name, (value, commented) in example_values().items():
        if not commented:
            monkeypatch.setenv(name, filled.get(name, value))
    assert config_check.check(today=TODAY) == []
    # ... and as shipped, the empty REQUIRED ones are named.
    for name in filled:
        monkeypatch.setenv(name, "")
    named = {p.setting for p in config_check.check(today=TODAY)}
    assert named >= set(filled) - {"WHATSAPP_PHONE_NUMBER_ID"}


def _ovenai_help(argv: list[str]) -> None:
    """The argv runs an existing `ovenai` command (its --help answers 0)."""
    assert Path(argv[0]).name == "ovenai", argv
    args = [a for a in argv[1:] if not a.startswith("-")][:2]
    while args:
        result = CliRunner().invoke(app, [*args, "--help"])
        if result.exit_code == 0 and "Usage: " in result.output:
            options = [a.split("=")[0] for a in argv[1:] if a.startswith("--")]
            for option in options:
                assert option in result.output, (argv, option)
            return
        args = args[:-1]
    raise AssertionError(f"no such command: {argv}")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
    return loaded


def test_compose_has_the_services_and_their_commands_exist() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "nginx", "serve-1", "serve-2", "worker-1", "worker-2"} <= set(
        services
    )
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, (name, needed)
        if "build" in service:
            assert service["build"]["dockerfile"] == "deploy/Dockerfile"
            assert (DEPLOY / service["build"]["context"] / "deploy" / "Dockerfile").is_file()
            _ovenai_help(service["command"])
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).is_file(), volume
    assert services["serve-1"]["command"][:2] == ["ovenai", "serve"]
    assert services["worker-2"]["command"][:2] == ["ovenai", "worker"]
    assert services["migrate"]["command"] == ["ovenai", "db", "upgrade"]
    environment = services["serve-1"]["environment"]
    assert environment["DATABASE_URL"] != environment["OVENAI_KEYSTORE_URL"]
    assert services["serve-1"]["env_file"] == "production.env"


def test_compose_holds_no_secret() -> None:
    text = (DEPLOY / "compose.yaml").read_text("utf-8")
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        secret = re.match(r"\s*\w*(TOKEN|SECRET|PASSWORD|KEYS)\s*:\s*(\S.*)$", line)
        if secret:
            assert secret.group(2).startswith("${"), line  # from the operator's deploy/.env
        assert not re.search(r"://[^:/\s]+:(?!\$\{)[^@\s]+@", line), line


def test_compose_nginx_balances_both_serves() -> None:
    site = (DEPLOY / "compose" / "nginx.conf").read_text("utf-8")
    assert re.findall(r"server (serve-\d):8000 max_fails=\d+", site) == ["serve-1", "serve-2"]


def test_the_dockerfile_is_slim_non_root_and_secret_free() -> None:
    text = (DEPLOY / "Dockerfile").read_text("utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    env_block = " ".join(re.findall(r"^ENV (.*(?:\\\n.*)*)", text, re.M))
    assert not re.search(r"TOKEN|SECRET|PASSWORD|ENCRYPTION_KEYS", env_block)
    for copied in re.findall(r"^COPY (\S+) ", text, re.M):
        assert (ROOT / copied).exists(), copied
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text("utf-8").splitlines()
    assert {".venv", "var", "deploy/production.env", "deploy/.env"} <= set(ignored)
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert cmd
    _ovenai_help(yaml.safe_load(cmd.group(1)))


UNITS = ("ovenai-serve@.service", "ovenai-worker@.service")


@pytest.mark.parametrize("unit", UNITS)
def test_the_units_parse_and_start_existing_commands(unit: str) -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / unit, encoding="utf-8")
    assert parser["Service"]["EnvironmentFile"] == "/etc/ovenai/production.env"
    assert parser["Service"]["Restart"] == "always"
    assert parser["Service"]["User"] == "ovenai"
    assert "ovenai.target" in parser["Install"]["WantedBy"]
    argv = shlex.split(parser["Service"]["ExecStart"].replace("%i", "8001"))
    _ovenai_help(argv)
    assert "%i" in parser["Service"]["ExecStart"]  # templated: one per port


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
def test_systemd_verifies_the_units(tmp_path: Path) -> None:
    ovenai = Path(sys.executable).parent / "ovenai"
    environment = tmp_path / "production.env"
    environment.write_text("OVENAI_ENV=production\n")
    for name in (*UNITS, "ovenai.target"):
        text = (DEPLOY / "systemd" / name).read_text("utf-8")
        text = text.replace("/opt/ovenai/.venv/bin/ovenai", str(ovenai))
        text = text.replace("/etc/ovenai/production.env", str(environment))
        (tmp_path / name).write_text(text)
    instances = [str(tmp_path / "ovenai-serve@8001.service")]
    instances.append(str(tmp_path / "ovenai-worker@9101.service"))
    done = subprocess.run(
        ["systemd-analyze", "verify", *instances],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [x for x in done.stderr.splitlines() if str(tmp_path) in x]
    assert done.returncode == 0 and problems == [], done.stderr


SITE = DEPLOY / "nginx" / "ovenai.conf"


def _size(value: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    return int(value[:-1]) * units[value[-1].lower()] if value[-1].isalpha() else int(value)


@pytest.mark.parametrize("site", [SITE, DEPLOY / "compose" / "nginx.conf"], ids=["site", "compose"])
def test_nginx_closes_an_idle_connection_before_serve_does(site: Path) -> None:
    """Else serve may close a kept-alive connection as nginx sends a POST on it: a 502."""
    upstream = re.search(r"upstream ovenai_serve \{(.*?)\n\}", site.read_text("utf-8"), re.S)
    assert upstream is not None
    idle = re.search(r"^\s*keepalive_timeout (\d+)s;", upstream.group(1), re.M)
    assert idle is not None, "the upstream keeps nginx's default of 60 s"
    assert int(idle.group(1)) < SERVER_OPTIONS["timeout_keep_alive"] == KEEP_ALIVE_S


def test_the_nginx_site_balances_checks_and_limits() -> None:
    site = SITE.read_text("utf-8")
    servers = re.findall(
        r"^\s*server 127\.0\.0\.1:(\d+) (max_fails=\d+ fail_timeout=\d+s);", site, re.M
    )
    assert [port for port, _ in servers] == ["8001", "8002"]
    body = re.search(r"client_max_body_size (\S+);", site)
    assert body and _size(body.group(1)) > 4 * 1024 * 1024  # above Meta's 3 MB and our 4 MiB
    for directive in ("proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout"):
        assert re.search(rf"{directive} \d+s;", site), directive
    assert "proxy_next_upstream error timeout" in site
    assert "ssl_certificate " in site and "ssl_certificate_key " in site
    assert "proxy_pass http://ovenai_serve;" in site


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed here")
def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crm.example.com")])
    now = __import__("datetime").datetime.now(__import__("datetime").timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + __import__("datetime").timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "ovenai.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ovenai.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    site = SITE.read_text("utf-8")
    site = site.replace("/etc/ssl/certs/ovenai.crt", str(tmp_path / "ovenai.crt"))
    site = site.replace("/etc/ssl/private/ovenai.key", str(tmp_path / "ovenai.key"))
    # Loopback only (one address each: the IPv6 lines would repeat it; nginx -t binds nothing).
    site = re.sub(r"^\s*listen \[::\]:.*$", "", site, flags=re.M)
    site = re.sub(r"listen 80;", "listen 127.0.0.1:18080;", site)
    site = re.sub(r"listen 443 ssl", "listen 127.0.0.1:18443 ssl", site)
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path};\n"
        f"  include {tmp_path}/site.conf;\n}}\n"
    )
    done = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr


ROTATION = DEPLOY / "nginx" / "ovenai-rotation"


def _rotation(
    tmp_path: Path, *arguments: str, nginx: str = "true", pid: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``ovenai-rotation ARGUMENTS`` on a copy of the site in ``tmp_path``: ``nginx`` stands
    in for nginx (``true`` accepts and reloads anything), ``pid`` for its master."""
    pidfile = tmp_path / "nginx.pid"
    pidfile.write_text(f"{pid}\n" if pid is not None else "")
    env = {
        "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
        "OVENAI_NGINX_SITE": str(tmp_path / "ovenai"),
        "NGINX": nginx,
        "OVENAI_NGINX_PID": str(pidfile),
        "OVENAI_ROTATION_WAIT_S": "5",
    }
    return subprocess.run(
        [str(ROTATION), *arguments], env=env, capture_output=True, text=True, timeout=30
    )


def _servers(site: Path) -> list[str]:
    return re.findall(r"^\s*(server 127\.0\.0\.1:\d+ [^;]*);", site.read_text(), re.M)


def test_the_rotation_marks_one_server_down_and_back(tmp_path: Path) -> None:
    (tmp_path / "ovenai").write_text(SITE.read_text())
    master = subprocess.Popen(["sleep", "30"])  # a master without workers: nothing to wait for
    try:
        for _ in range(2):  # twice out is out once
            done = _rotation(tmp_path, "out", "8001", pid=master.pid)
            assert done.returncode == 0, done.stderr
        assert _servers(tmp_path / "ovenai") == [
            "server 127.0.0.1:8001 max_fails=2 fail_timeout=5s down",
            "server 127.0.0.1:8002 max_fails=2 fail_timeout=5s",
        ]
        done = _rotation(tmp_path, "in", "127.0.0.1:8001", pid=master.pid)
        assert done.returncode == 0, done.stderr
    finally:
        master.kill()
        master.wait()
    assert (tmp_path / "ovenai").read_text() == SITE.read_text()


@pytest.mark.parametrize(
    ("arguments", "nginx", "said"),
    [
        (("out", "8003"), "true", "no upstream line 'server 127.0.0.1:8003"),
        (("out", "800"), "true", "no upstream line 'server 127.0.0.1:800 "),
        (("out", "8001"), "false", "nginx refused the site; nothing changed"),
        (("drain", "8001"), "true", "usage:"),
        (("out", "80; rm"), "true", "usage:"),
    ],
)
def test_the_rotation_changes_nothing_it_cannot_do(
    tmp_path: Path, arguments: tuple[str, str], nginx: str, said: str
) -> None:
    (tmp_path / "ovenai").write_text(SITE.read_text())
    done = _rotation(tmp_path, *arguments, nginx=nginx, pid=1)
    assert done.returncode != 0
    assert said in done.stderr
    assert (tmp_path / "ovenai").read_text() == SITE.read_text()
