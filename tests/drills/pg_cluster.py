"""A PostgreSQL primary and its synchronous streaming replica, made on this machine for a drill.

The machine's own server (port 5432) is shared and never touched: this makes two clusters of
its own in a temporary folder with Debian's server binaries (``initdb``, ``pg_basebackup``,
``pg_ctl``), on free loopback ports, as the setting of docs/operations.md "Database
failover" describes: the primary streams to the replica and waits for it on every commit
(``synchronous_standby_names``, ``synchronous_commit = on``), so a commit the primary
acknowledged is on the replica's disk too.

:meth:`Pair.kill_primary` kills the primary's processes with SIGKILL (no checkpoint, no
clean shutdown: the machine lost); :meth:`Pair.promote` makes the replica the primary.
PostgreSQL refuses to run as root: as root, the commands run as the ``postgres`` user.

:func:`one_server` makes a single cluster listening on another host's address (the cluster
drill's ``db`` namespace), started inside that host.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from drills.product import free_port

REPLICA_NAME = "ovenai_replica"
PRIMARY_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "wal_level": "replica",
    "max_wal_senders": "4",
    "synchronous_commit": "on",
    "synchronous_standby_names": f"'{REPLICA_NAME}'",
    "fsync": "on",
    "max_connections": "200",
    "shared_buffers": "64MB",
}
# The replica, once promoted, has no standby to wait for: it must not wait for one (the
# operator attaches a new replica and sets the name again; docs/operations.md).
REPLICA_SETTINGS = {"synchronous_standby_names": "''", "hot_standby": "on"}


def server_binaries() -> Path | None:
    """The folder of Debian's PostgreSQL server programs, newest version first; None if absent."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if found:
        return found[0].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def can_make_clusters() -> str | None:
    """Why this machine cannot make clusters for the drill, or None when it can."""
    if server_binaries() is None:
        return "PostgreSQL's server programs (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as"
    return None


@dataclass
class Cluster:
    """One server: its data folder and port."""

    folder: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def postmaster_pid(self) -> int | None:
        """The postmaster's pid from its pid file; None when it is not running."""
        pid_file = self.folder / "postmaster.pid"
        with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
            return int(pid_file.read_text().splitlines()[0])
        return None

    def dsn(self, database: str = "postgres") -> str:
        """A libpq connection string to ``database`` on this server."""
        where = f"host={self.host} port={self.port}"
        return f"{where} user=postgres dbname={database} connect_timeout=3"

    def is_primary(self) -> bool:
        """Whether this server accepts writes (not in recovery)."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        return row is not None and not row[0]


class Pair:
    """A primary and its synchronous replica in ``root`` (see the module's docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = server_binaries() or Path("/usr/bin")
        self.primary = Cluster(root / "primary", free_port())
        self.replica = Cluster(root / "replica", free_port())

    def _run(self, program: str, *arguments: str, timeout: float = 120) -> None:
        _run(self.bin, program, *arguments, timeout=timeout)

    def _start(self, cluster: Cluster) -> None:
        _start(self.bin, cluster)

    def start(self) -> None:
        """Make and start the primary, copy it into the replica, start it and wait until the
        primary counts it as its synchronous standby."""
        self._run("initdb", "-D", str(self.primary.folder), "--auth=trust", "-U", "postgres")
        with (self.primary.folder / "postgresql.auto.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in PRIMARY_SETTINGS.items())
        with (self.primary.folder / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        self._start(self.primary)
        source = f"host=127.0.0.1 port={self.primary.port} user=postgres"
        source += f" application_name={REPLICA_NAME}"
        copy = str(self.replica.folder)
        self._run("pg_basebackup", "-D", copy, "-d", source, "--write-recovery-conf")
        with (self.replica.folder / "postgresql.auto.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in REPLICA_SETTINGS.items())
        (self.replica.folder / "postmaster.pid").unlink(missing_ok=True)
        self._start(self.replica)
        deadline = time.monotonic() + 60
        while not self.replica_is_synchronous():
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not become the primary's synchronous standby")
            time.sleep(0.2)

    def replica_is_synchronous(self) -> bool:
        """Whether the primary waits for the replica on every commit."""
        with psycopg.connect(self.primary.dsn(), autocommit=True) as conn:
            row = conn.execute(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s",
                (REPLICA_NAME,),
            ).fetchone()
        return row is not None and row[0] == "sync"

    def url(self, database: str) -> str:
        """SQLAlchemy's URL of ``database`` over both servers, writes going to the primary of
        the moment (the form docs/operations.md gives)."""
        hosts = f"host=127.0.0.1:{self.primary.port}&host=127.0.0.1:{self.replica.port}"
        return f"postgresql+psycopg://postgres@/{database}?{hosts}&target_session_attrs=read-write"

    def kill_primary(self) -> None:
        """SIGKILL every process of the primary: the postmaster first, then its children."""
        pid = self.primary.postmaster_pid
        if pid is None:
            return
        children = subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        for each in [pid, *map(int, children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(each, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(_alive(each) for each in [pid, *map(int, children)]):
            if time.monotonic() > deadline:
                raise RuntimeError("the primary's processes outlived SIGKILL")
            time.sleep(0.05)

    def promote(self) -> None:
        """Make the replica the primary (``pg_ctl promote``, waiting until it accepts writes)."""
        self._run("pg_ctl", "-D", str(self.replica.folder), "-w", "promote")

    def stop(self) -> None:
        """Stop whatever still runs (fast shutdown)."""
        for cluster in (self.replica, self.primary):
            if cluster.postmaster_pid is not None and _alive(cluster.postmaster_pid):
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    self._run("pg_ctl", "-D", str(cluster.folder), "-m", "immediate", "stop")


def _run(
    folder: Path, program: str, *arguments: str, timeout: float = 120, inside: Sequence[str] = ()
) -> None:
    """A server program of ``folder`` (as the postgres user when root; ``inside``: a prefix
    such as ``ip netns exec NAME`` that runs it in another host)."""
    command = [str(folder / program), *arguments]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    command = [*inside, *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        said = done.stderr or done.stdout
        raise RuntimeError(f"{program} failed ({done.returncode}): {said}")


def _start(folder: Path, cluster: Cluster, inside: Sequence[str] = ()) -> None:
    options = f"-p {cluster.port} -k {cluster.folder}"
    log = str(cluster.folder / "server.log")
    command = ("pg_ctl", "-D", str(cluster.folder), "-o", options, "-l", log, "-w", "start")
    _run(folder, *command, inside=inside)


def _own_folder(prefix: str) -> Path:
    """A temporary folder for clusters (owned by postgres when running as root)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    root.chmod(0o700)
    return root


@contextlib.contextmanager
def one_server(host: str, port: int, clients: str, inside: Sequence[str] = ()) -> Iterator[Cluster]:
    """One cluster of the drill's own listening on ``host:port``, trusting the network
    ``clients`` (CIDR), started with the prefix ``inside`` (another host's namespace); stopped
    (immediate) and removed afterwards."""
    root = _own_folder("ovenai-cluster-")
    programs = server_binaries() or Path("/usr/bin")
    cluster = Cluster(root / "data", port, host)
    try:
        _run(programs, "initdb", "-D", str(cluster.folder), "--auth=trust", "-U", "postgres")
        settings = PRIMARY_SETTINGS | {"listen_addresses": f"'{host}'"}
        settings.pop("synchronous_standby_names")
        with (cluster.folder / "postgresql.auto.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        with (cluster.folder / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all postgres {clients} trust\n")
        _start(programs, cluster, inside)
        yield cluster
    finally:
        if cluster.postmaster_pid is not None and _alive(cluster.postmaster_pid):
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _run(programs, "pg_ctl", "-D", str(cluster.folder), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of a dead postmaster is reaped by init; until then it is a zombie.
    with contextlib.suppress(FileNotFoundError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False


@contextlib.contextmanager
def primary_and_replica() -> Iterator[Pair]:
    """A started pair in a temporary folder (owned by postgres when running as root), stopped
    and removed afterwards."""
    root = _own_folder("ovenai-failover-")
    pair = Pair(root)
    try:
        pair.start()
        yield pair
    finally:
        pair.stop()
        shutil.rmtree(root, ignore_errors=True)
