"""Small helpers shared by the webhook parsers: the change an item came from, and the
event of a part we could not read (an entry, a change or one item of a change)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from msgspec import Raw

from ovenai.events import ErrorDetail, UnreadableItem
from ovenai.ingest.parse import change_structs as wire
from ovenai.ingest.parse.dedupe_keys import content_key

# What reading one item may raise: msgspec.ValidationError is a ValueError, and so are
# bad timestamps; OverflowError/OSError come from absurd timestamps.
ITEM_ERRORS = (ValueError, OverflowError, OSError)


@dataclass(frozen=True, slots=True)
class ChangeSource:
    """One ``entry[].changes[]`` item with the entry facts every event needs.

    ``path`` says where the change sits in its body (``$.entry[0].changes[1]``).
    """

    waba_id: str
    entry_time: int | None
    field: str
    value: Raw
    path: str = "$"

    @property
    def time(self) -> datetime | None:
        """Return ``entry[].time`` as an aware UTC datetime, if present and sane."""
        try:
            return None if self.entry_time is None else utc_from_unix(self.entry_time)
        except ITEM_ERRORS:
            return None

    def key(self, raw: bytes | Raw | None = None, prefix: str | None = None) -> str:
        """Return the content-hash dedupe key of this change (or of one raw item of it)."""
        data = bytes(self.value if raw is None else raw)
        return content_key(prefix or self.field, self.waba_id, self.entry_time, data)

    def item_path(self, array: str, index: int) -> str:
        """Return the path of ``value.<array>[<index>]`` of this change."""
        return f"{self.path}.value.{array}[{index}]"


def utc_from_unix(value: int | str) -> datetime:
    """Convert Meta's Unix seconds (an int, or a string of digits) to an aware UTC datetime."""
    if isinstance(value, str) and not value.isascii():
        raise ValueError(f"timestamp is not ASCII digits: {value!r}")
    return datetime.fromtimestamp(int(value), UTC)


def raw_text(raw: bytes | Raw) -> str:
    """Return raw JSON bytes as text for storage next to an event."""
    return bytes(raw).decode("utf-8", errors="replace")


def error_detail(error: wire.Error) -> ErrorDetail:
    """Convert one of Meta's ``errors[]`` items; ``error_data`` may be an object or a string."""
    data = error.error_data
    details = data.details if isinstance(data, wire.ErrorData) else data
    return ErrorDetail(
        code=error.code, title=error.title, message=error.message, details=details, href=error.href
    )


def unreadable(
    source: ChangeSource, item: str, raw: bytes | Raw, problem: str, path: str | None = None
) -> UnreadableItem:
    """Build the event for a change (or an item at ``path`` in it) we could not read.

    The key hashes the exact bytes, as for other id-less changes, so it is the same in every
    copy of the body Meta resends (each stored copy records its own failure row).
    """
    return UnreadableItem(
        dedupe_key=source.key(raw, prefix=_unreadable_prefix(source.field, item)),
        waba_id=source.waba_id,
        field=source.field,
        item=item,
        raw_json=raw_text(raw),
        problem=problem,
        path=source.path if path is None else path,
    )


def unreadable_entry(raw: Raw, problem: str, path: str) -> UnreadableItem:
    """Build the event for an ``entry[]`` element we could not read (no WABA, no field)."""
    return UnreadableItem(
        dedupe_key=content_key(_unreadable_prefix("", "entry"), "", None, bytes(raw)),
        waba_id="",
        field="",
        item="entry",
        raw_json=raw_text(raw),
        problem=problem,
        path=path,
    )


def _unreadable_prefix(field: str, item: str) -> str:
    """``unreadable:<field>:<item>``, or ``unreadable:<item>`` when no field is known."""
    return f"unreadable:{field}:{item}" if field else f"unreadable:{item}"
