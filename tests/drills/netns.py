"""Hosts made of Linux network namespaces, for the cluster drill (docs/drills.md "A cluster").

:func:`network` makes one switch (a bridge in a namespace of its own) and, per host, a
namespace joined to it by a veth pair, on a ``10.x.y.0/24`` subnet chosen at random for the
run. The test's own process (the root namespace) is a host on the switch too, with the
subnet's ``.1``, so that it can reach what it drives and counts. Those addresses are private
to the drill: nothing routes them off the machine, nothing outside the drill's namespaces
has one, and every namespace, veth and process the drill made is removed when the network
is (the namespaces' processes killed by id first, even when the drill failed).

Needs root and iproute2's ``ip netns``: :func:`why_not` says why not, for a skip.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

IP = shutil.which("ip") or "/usr/sbin/ip"


def _ip(*arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([IP, *arguments], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(arguments)} failed: {done.stderr.strip()}")
    return done


def why_not() -> str | None:
    """Why this machine cannot make the drill's namespaces, or None when it can."""
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    if not os.path.exists(IP):
        return "iproute2's ip is not installed"
    probe = f"ovdprobe{secrets.token_hex(2)}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@dataclass(frozen=True)
class Host:
    """One host: its namespace and its address on the drill's switch."""

    name: str
    namespace: str
    address: str

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside this host (``ip netns exec``; the pid stays the command's)."""
        return [IP, "netns", "exec", self.namespace, *argv]


@dataclass
class Network:
    """The drill's switch and hosts; the test process is ``outside`` (the subnet's .1)."""

    tag: str
    subnet: str  # "10.x.y"
    switch: str  # the switch's namespace
    outside: str  # the test process's address
    hosts: dict[str, Host] = field(default_factory=dict)
    _links: list[str] = field(default_factory=list)  # veths left in the root namespace

    def add(self, name: str) -> Host:
        """A new host ``name`` with the next address, joined to the switch."""
        number = len(self.hosts) + 2
        host = Host(name, f"ovd{self.tag}-{name}", f"{self.subnet}.{number}")
        _ip("netns", "add", host.namespace)
        self.hosts[name] = host
        inner, outer = f"ovd{self.tag}h{number}", f"ovd{self.tag}s{number}"
        _ip("link", "add", inner, "type", "veth", "peer", "name", outer)
        self._links.append(inner)
        _ip("link", "set", inner, "netns", host.namespace)
        self._links.remove(inner)
        _plug(self.switch, outer)
        inside = ["-n", host.namespace]
        _ip(*inside, "link", "set", inner, "name", "eth0")
        _ip(*inside, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _ip(*inside, "link", "set", "eth0", "up")
        _ip(*inside, "link", "set", "lo", "up")
        return host

    def pids(self, host: Host) -> list[int]:
        """The processes running inside ``host`` (all of them the drill's)."""
        done = _ip("netns", "pids", host.namespace, check=False)
        return [int(pid) for pid in done.stdout.split()]

    def remove(self) -> None:
        """Kill what still runs in the hosts (by id), delete the namespaces and veths."""
        namespaces = [host for host in self.hosts.values()]
        for host in namespaces:
            for pid in self.pids(host):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(self.pids(host) for host in namespaces) and time.monotonic() < deadline:
            time.sleep(0.05)
        for host in namespaces:
            _ip("netns", "del", host.namespace, check=False)
        _ip("netns", "del", self.switch, check=False)  # its veth ends go with it
        for link in self._links:
            _ip("link", "del", link, check=False)


def _plug(switch: str, link: str) -> None:
    """Move veth end ``link`` into the switch's namespace and attach it to its bridge."""
    _ip("link", "set", link, "netns", switch)
    _ip("-n", switch, "link", "set", link, "master", "br0")
    _ip("-n", switch, "link", "set", link, "up")


def _free_subnet() -> str:
    """A ``10.x.y`` /24 that no route of the machine covers yet."""
    routes = _ip("route", "show").stdout
    for _ in range(100):
        subnet = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"
        if f"{subnet}." not in routes:
            return subnet
    raise RuntimeError("no free 10.x.y.0/24 subnet for the drill")


@contextlib.contextmanager
def network(*names: str) -> Iterator[Network]:
    """The switch, the test process joined to it, and a host per name; all removed after."""
    tag = secrets.token_hex(2)
    subnet = _free_subnet()
    net = Network(tag, subnet, f"ovd{tag}-switch", f"{subnet}.1")
    try:
        _ip("netns", "add", net.switch)
        _ip("-n", net.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", net.switch, "link", "set", "br0", "up")
        mine, outer = f"ovd{tag}h1", f"ovd{tag}s1"
        _ip("link", "add", mine, "type", "veth", "peer", "name", outer)
        net._links.append(mine)
        _plug(net.switch, outer)
        _ip("addr", "add", f"{net.outside}/24", "dev", mine)
        _ip("link", "set", mine, "up")
        for name in names:
            net.add(name)
        yield net
    finally:
        net.remove()
