"""The shipped nginx site (``deploy/nginx/ovenai.conf``) as the drills run it with Debian's nginx.

It is kept as it is but for what a test must change: the upstream's servers are the drill's
(``host:port``), it listens on the drill's address without TLS (the redirect to HTTPS and the
certificate lines are left out), and its files are in the test's folder. Used by the
rolling-restart drill (on loopback) and the cluster drill (inside its namespaces).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "ovenai.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _fail_timeout_s() -> float:
    """How long nginx keeps a server that failed out (the shipped upstream's fail_timeout)."""
    found = re.search(r"fail_timeout=(\d+)s", SITE.read_text())
    assert found is not None, "the shipped upstream has no fail_timeout"
    return float(found.group(1))


# A server restarted and live again is still left out by nginx until its fail_timeout has
# passed: stopping the other one before then leaves nginx none (502s: the first run of the
# rolling-restart drill found it). The cluster drill, which kills and restarts serves without
# taking them out of nginx's rotation first, waits it out; docs/operations.md "Deploying a
# release" (and the rolling-restart drill) take a serve out first, which leaves no failure
# to wait out.
REJOIN_S = _fail_timeout_s() + 1.0


def site_for_test(listen: str, upstreams: list[str], folder: Path) -> str:
    """The shipped site listening on ``listen`` (``host:port``) without TLS, passing to the
    ``upstreams`` (``host:port`` each), inside a whole nginx.conf whose files are in
    ``folder``."""
    text = SITE.read_text()
    text = re.sub(r"server\s*\{\s*listen 80;.*?\n\}\n", "", text, count=1, flags=re.S)
    text = re.sub(r"^\s*server 127\.0\.0\.1:\d+ (.*)$", "", text, flags=re.M)
    args = re.search(r"server 127\.0\.0\.1:\d+ ([^;]*);", SITE.read_text())
    assert args is not None, "the shipped upstream has no server line"
    servers = "".join(f"    server {upstream} {args.group(1)};\n" for upstream in upstreams)
    text = text.replace("upstream ovenai_serve {", "upstream ovenai_serve {\n" + servers, 1)
    text = re.sub(r"^\s*listen \[::\]:443.*$", "", text, flags=re.M)
    text = re.sub(r"^\s*listen 443.*$", f"    listen {listen};", text, flags=re.M)
    text = re.sub(r"^\s*ssl_\w+ .*$", "", text, flags=re.M)
    assert "ssl" not in re.sub(r"#.*", "", text), text
    return f"""
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
worker_processes 1;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/nginx-access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{text}
}}
"""


def write_site(listen: str, upstreams: list[str], folder: Path) -> Path:
    """The site written to ``folder/nginx.conf`` with the folders nginx keeps its files in."""
    conf = folder / "nginx.conf"
    conf.write_text(site_for_test(listen, upstreams, folder))
    for each in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / each).mkdir(exist_ok=True)
    return conf
