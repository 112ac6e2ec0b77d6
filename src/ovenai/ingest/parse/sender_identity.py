"""Who sent a message: the message's ``from``/``from_user_id`` joined with ``contacts[]``."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
from msgspec import Raw

from ovenai.events import UserIdentity
from ovenai.ingest.parse import change_structs as wire
from ovenai.ingest.parse.lenient_json import read

_NOBODY = wire.Contact()


class ContactBook:
    """The ``contacts[]`` of one change, looked up by ``wa_id`` or BSUID."""

    def __init__(self, contacts: Iterable[wire.Contact]) -> None:
        self._all = list(contacts)
        self._by_wa_id = {c.wa_id: c for c in self._all if c.wa_id}
        self._by_user_id = {c.user_id: c for c in self._all if c.user_id}

    @classmethod
    def from_raw(cls, items: list[Raw]) -> ContactBook:
        """Decode each contact on its own, skipping any whose shape we cannot read."""
        return cls(c for c in (_decode_contact(raw) for raw in items) if c is not None)

    def identify(self, sender: str | None, sender_user_id: str | None) -> UserIdentity:
        """Resolve a sender given as ``from`` (phone or, for username users, BSUID) and BSUID."""
        wa_id, user_id = split_sender(sender, sender_user_id)
        contact = self._find(wa_id, user_id)
        return UserIdentity(
            wa_id=wa_id or contact.wa_id,
            user_id=user_id or contact.user_id,
            parent_user_id=contact.parent_user_id,
            username=contact.profile.username,
            profile_name=contact.profile.name,
        )

    def _find(self, wa_id: str | None, user_id: str | None) -> wire.Contact:
        """Find the contact by BSUID, then wa_id; an anonymous sender gets a lone contact."""
        found = self._by_user_id.get(user_id or "") or self._by_wa_id.get(wa_id or "")
        if found is not None:
            return found
        if wa_id is None and user_id is None and len(self._all) == 1:
            return self._all[0]
        return _NOBODY


def split_sender(sender: str | None, sender_user_id: str | None) -> tuple[str | None, str | None]:
    """Return (wa_id, user_id); a ``from`` shaped like a BSUID (``IL.…``) is a user id."""
    if sender and looks_like_bsuid(sender):
        return None, sender_user_id or sender
    return sender or None, sender_user_id or None


def looks_like_bsuid(value: str) -> bool:
    """Tell a BSUID (``CC.alphanumerics``) from a wa_id (digits only)."""
    return "." in value and not value.isdigit()


def _decode_contact(raw: Raw) -> wire.Contact | None:
    """Decode one ``contacts[]`` item, or None if its shape is unreadable."""
    try:
        return read(raw, wire.Contact)
    except msgspec.ValidationError:
        return None
