"""Idempotency keys for webhook events (Meta retries and batches: Webhooks › Overview).

* inbound message: ``message:<wamid>`` (the wamid is globally unique);
* status: ``status:<wamid>:<status>``, so each step (sent, delivered, read...) is applied
  once while a repeated step is a duplicate;
* user preference: ``user_preference:<BSUID or wa_id>:<category>:<value>:<unix time>``;
* anything else (template, account, out-of-band error, ignored or unreadable item):
  ``<field>:<sha256 of (WABA id, entry time, exact value bytes)>``, as Meta gives those
  changes no id; a retry resends the same bytes, so the key is stable.
"""

from __future__ import annotations

import hashlib


def message_key(wamid: str) -> str:
    """Return the dedupe key of an inbound message."""
    return f"message:{wamid}"


def status_key(wamid: str, status_raw: str) -> str:
    """Return the dedupe key of one status step of an outbound message."""
    return f"status:{wamid}:{status_raw}"


def preference_key(user: str, category: str, value: str, unix_time: int) -> str:
    """Return the dedupe key of a marketing-preference change."""
    return f"{preference_prefix(user)}{category}:{value}:{unix_time}"


def preference_prefix(user: str) -> str:
    """The start of every preference key of one user (erasure deletes them by it)."""
    return f"user_preference:{user}:"


def content_key(field: str, waba_id: str, entry_time: int | None, raw: bytes) -> str:
    """Return a key for a change Meta gives no id to, hashed from its exact bytes."""
    digest = hashlib.sha256(f"{waba_id}\x00{entry_time}\x00".encode())
    digest.update(raw)
    return f"{field}:{digest.hexdigest()[:32]}"
