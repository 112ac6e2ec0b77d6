"""What a database keeps on disk, read the way an attacker with a copy would.

The SQLite files are read by another process on purpose: closing a file descriptor of a
database file releases every POSIX lock this process holds on it, including the locks of
the server's live connections, and concurrent writers then corrupt the database.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url


def stored_bytes(database_url: str, tmp_path: Path) -> bytes:
    """The raw bytes of a database: the SQLite files, or a PostgreSQL dump."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        base = Path(str(url.database))
        files = [str(p) for p in sorted(base.parent.glob(base.name + "*"))]
        return subprocess.run(["cat", *files], capture_output=True, check=True).stdout
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    dump = tmp_path / "dump.sql"
    command = ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-f", str(dump), str(url.database)]
    subprocess.run(command, check=True, timeout=60)
    return dump.read_bytes()
