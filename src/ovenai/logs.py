"""How `ovenai serve` and `ovenai worker` log: one handler, a level and a format by setting.

Every line goes through the standard library's logging (uvicorn's, APScheduler's and
OvenAI's alike) to one handler on the root logger, formatted by structlog as a console line
or as one JSON object a line (``OVENAI_LOG_FORMAT``), at ``OVENAI_LOG_LEVEL``. Uvicorn is
started without its own logging set-up (``log_config=None``: :mod:`ovenai.cli.serving`), so
its lines come here too. In the sandbox two uvicorn servers (the product and the simulator)
share one process and uvicorn's loggers: each would print the start and stop lines, so a
line of the server's life is printed once only.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from ovenai.settings import Settings

_OURS = "ovenai_handler"
"""The attribute marking the handler :func:`configure` installs (replaced on a second call)."""
_LIFECYCLE = "uvicorn.error"
"""Uvicorn's logger of the server's life: "Started server process", "Application startup
complete", "Shutting down" ... (its errors too, which are never held back)."""
_QUIETER = {
    "alembic": logging.WARNING,
    "apscheduler": logging.ERROR,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
}
"""Libraries that speak per step, request or tick: Alembic names each migration it runs,
httpx every URL it calls (query strings included), and APScheduler warns each second its
one-second tick skips a run while the last one still works (the next tick runs it; a
failing job is an ERROR, still shown)."""
FIELDS = ("method", "path", "status", "duration_ms")
"""The fields a line may carry besides its message (the access log's, :mod:`ovenai.web.
access_log`); other ``extra=`` values (uvicorn's coloured copy of its message) are left out."""


class _OnceEach(logging.Filter):
    """Lets a line of a server's life through once per process (the same text again is the
    sandbox's second server, starting or stopping with the first)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a lifecycle line already printed."""
        if record.name != _LIFECYCLE or record.levelno > logging.INFO:
            return True
        text = record.getMessage()
        if text in self.seen:
            return False
        self.seen.add(text)
        return True


def _formatter(json_lines: bool) -> logging.Formatter:
    """structlog's formatter for standard-library records: time (UTC), level, logger, the
    message, and the fields a line was given (``extra=``)."""
    before: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(allow=FIELDS),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # A traceback is logged as plain text, never with its frames' local variables: rich's
    # formatter (structlog's default when rich is installed, as typer installs it) printed
    # every local of every frame (request values, decrypted fields, keys) and took tens of
    # seconds of the event loop for one SQLAlchemy error (found by schemathesis, docs/drills.md).
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(
            colors=False, pad_event_to=0, exception_formatter=structlog.dev.plain_traceback
        )
    )
    # JSON lines carry the traceback as text under "exception" (not the repr of exc_info).
    exceptions = [structlog.processors.format_exc_info] if json_lines else []
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=before,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *exceptions,
            renderer,
        ],
    )


def configure(settings: Settings, *, stream: Any = None) -> None:
    """Send every log line to one handler on ``stream`` (stderr) in the format and at the
    level the settings say; safe to call again (the handler is replaced)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_formatter(settings.log_format == "json"))
    handler.addFilter(_OnceEach())
    setattr(handler, _OURS, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in ("uvicorn", _LIFECYCLE, "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()  # uvicorn's own, when a config set them up before
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    for name, level in _QUIETER.items():
        logging.getLogger(name).setLevel(max(level, root.level))
    structlog.configure(
        processors=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
