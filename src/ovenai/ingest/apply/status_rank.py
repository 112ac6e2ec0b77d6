"""How far a delivery status moves a message: Meta's steps ranked, never downgraded.

Meta does not promise the order of status webhooks (docs/whatsapp-api-notes.md, "Ranking"),
so a status is applied only when it ranks above the message's current one.
"""

from __future__ import annotations

from ovenai.events.enums import DeliveryStatus

# Meta's order sent < delivered < read < played, times ten, so that ``failed`` fits between
# ``sent`` and ``delivered``: it overrides sent, never a delivery, and a later delivered/read
# overrides it. Rank 0 (unknown, On-Premises deleted/warning; also our local "queued") is
# never applied.
_RANKS = {
    DeliveryStatus.SENT: 10,
    DeliveryStatus.FAILED: 15,
    DeliveryStatus.DELIVERED: 20,
    DeliveryStatus.READ: 30,
    DeliveryStatus.PLAYED: 40,
}
QUEUED_RANK = 0


def status_rank(status: DeliveryStatus | str) -> int:
    """Return the rank of a status: apply a new status only if its rank is higher."""
    return _RANKS.get(DeliveryStatus.parse(status), QUEUED_RANK)


def supersedes(new: DeliveryStatus | str, current: DeliveryStatus | str | None) -> bool:
    """Tell whether ``new`` moves a message forward from ``current`` (None = only queued)."""
    current_rank = QUEUED_RANK if current is None else status_rank(current)
    return status_rank(new) > current_rank
