"""The hour keys of stored webhook bodies: which key seals a body, and opening one.

Bodies are personal data (names, numbers, texts), so each is encrypted under the key of
the hour it arrived in (key store scope ``webhook``, id ``YYYYMMDDHH``); an erasure can
re-seal one hour's bodies without the person's data and destroy the old key.
"""

from __future__ import annotations

from datetime import datetime

from ovenai.keystore import Vault
from ovenai.sealing import WEBHOOK_EVENTS

KEY_SCOPE = WEBHOOK_EVENTS.key_scope


def key_bucket(received_at: datetime) -> str:
    """The key-store id of the hour a body arrived in (UTC, ``YYYYMMDDHH``)."""
    return received_at.strftime("%Y%m%d%H")


async def open_body(vault: Vault, event_id: str, bucket: str, blob: bytes) -> bytes:
    """Decrypt a stored body with its hour's key."""
    key = await vault.key(KEY_SCOPE, bucket)
    return WEBHOOK_EVENTS.cipher(key, event_id).open_bytes("body", blob)
