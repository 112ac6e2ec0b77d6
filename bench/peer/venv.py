"""The peer's own virtualenv: pywa and its recommended server, pinned, apart from .venv.

Created by the bench when missing (``python3.11 -m venv`` and pip from the registry), in
``var/bench-peer-venv`` (``var/`` is not committed) or ``$BENCH_PEER_VENV``; rebuilt when
the pins below change. pywa is never a dependency of the project (pyproject.toml).

    .venv/bin/python -m bench.peer.venv        # create or check it; print its python
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PINS = (
    "pywa==4.5.0",
    "fastapi==0.165.0",
    "uvicorn[standard]==0.55.0",
    "httpx==0.29.0",
    "sniffio==1.3.1",
)
"""pywa and the server its documentation recommends for webhooks (FastAPI on uvicorn; the
``standard`` extra brings uvloop and httptools, as the product's benchmark server uses).
sniffio: httpcore (under pywa's httpx) imports it on every request and, missing (pip does
not bring it with pywa 4.5.0), pays a failed import each time; given to the peer's best."""

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parent.parent / "var" / "bench-peer-venv"


def venv_folder() -> Path:
    """Where the peer's venv is (``$BENCH_PEER_VENV`` or ``var/bench-peer-venv``)."""
    return Path(os.environ.get("BENCH_PEER_VENV") or DEFAULT)


def peer_python() -> Path:
    """The peer venv's interpreter, the venv created (or brought to the pins) first."""
    folder = venv_folder()
    python = folder / "bin" / "python"
    stamp = folder / "bench-pins.txt"
    wanted = "\n".join(PINS) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"peer: installing {' '.join(PINS)} into {folder}", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *PINS], check=True)
    stamp.write_text(wanted)
    return python


def peer_version(python: Path) -> str:
    """The pywa version the peer venv runs (read from its metadata)."""
    code = "import importlib.metadata as m; print(m.version('pywa'))"
    found = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return found.stdout.strip()


if __name__ == "__main__":
    print(peer_python())
