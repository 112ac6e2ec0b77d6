"""The erasure journal: every erasure's lead id and time, appended to a file kept apart.

A backup restored brings back whom it held, including people erased after it was taken; the
journal, kept outside the backups (``OVENAI_ERASURE_JOURNAL``), names them so that
:func:`ovenai.backups.replay_erasures` erases them again. A line is
``{"lead_id": ..., "erased_at": ...}``: a random id and a time, no personal data.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from ovenai.errors import InvalidInput


def record(journal: Path | None, lead_id: str, at: datetime) -> None:
    """Append one erasure to the journal (and make it durable); nothing without a journal."""
    if journal is None:
        return
    journal.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"lead_id": lead_id, "erased_at": at.isoformat()}) + "\n"
    descriptor = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, line.encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read(journal: Path) -> list[str]:
    """The lead ids the journal names, oldest first, each once."""
    if not journal.exists():
        raise InvalidInput(f"no erasure journal at {journal}")
    found: dict[str, None] = {}
    for number, line in enumerate(journal.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found[str(json.loads(line)["lead_id"])] = None
        except (ValueError, KeyError, TypeError):
            raise InvalidInput(f"{journal}, line {number}: not an erasure entry") from None
    return list(found)
