"""pywa receiving signed webhooks on the server its documentation recommends (FastAPI on
uvicorn), for :mod:`bench.peer.receive`. Run by the peer venv's python only:

    var/bench-peer-venv/bin/python bench/peer/pywa_server.py --port 8123 --secret S

``WhatsApp(server=app, app_secret=..., verify_token=...)`` registers pywa's own webhook
route: it checks X-Hub-Signature-256 against the app secret (401/403 otherwise), parses the
update, builds pywa's ``MessageStatus`` for a status and calls the handler, then answers
200. Nothing is stored. ``skip_duplicate_updates`` is off: the benchmark cycles 5,000
signed bodies, and pywa's in-memory duplicate cache (100,000 hashes, one process) would
otherwise answer every body after the first 5,000 from the cache without handling it.
Served as the product's benchmark server is: one uvicorn process, uvloop, httptools,
access log off. When uvicorn stops, the statuses handled are written to ``--count-file``.

pywa and FastAPI are imported by name at run time (importlib): they are installed in the
peer venv only, so the project's mypy and deptry, which see .venv, do not look for them;
this file is typed against ``Any`` for them.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

handled = 0


async def on_status(_client: Any, _status: Any) -> None:
    """The handler an application registers for statuses: here it only counts them."""
    global handled
    handled += 1


def count_into(path: str | None) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A lifespan that writes the statuses handled into ``path`` when the server stops
    (uvicorn re-raises SIGTERM once it has shut down: nothing runs after it returns)."""

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        if path:
            Path(path).write_text(str(handled))

    return lifespan


def build(secret: str, path: str, phone_id: str, count_file: str | None) -> Any:
    """The FastAPI app with pywa's webhook route on ``path``."""
    fastapi = importlib.import_module("fastapi")
    pywa = importlib.import_module("pywa_async")
    handlers = importlib.import_module("pywa_async.handlers")
    app = fastapi.FastAPI(lifespan=count_into(count_file))
    client = pywa.WhatsApp(
        phone_id=phone_id,
        token="bench-token-unused",
        server=app,
        webhook_endpoint=path,
        verify_token="bench-verify-token",
        app_secret=secret,
        validate_updates=True,
        skip_duplicate_updates=False,
    )
    client.add_handlers(handlers.MessageStatusHandler(on_status))
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--path", default="/webhooks/whatsapp")
    parser.add_argument("--phone-id", default="420000000000002")
    parser.add_argument("--count-file")
    args = parser.parse_args()
    uvicorn = importlib.import_module("uvicorn")
    uvicorn.run(
        build(args.secret, args.path, args.phone_id, args.count_file),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
