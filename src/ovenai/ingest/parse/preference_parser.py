"""``user_preferences`` changes: a user stopped or resumed marketing (Meta: user_preferences)."""

from __future__ import annotations

from collections.abc import Iterator

from msgspec import Raw

from ovenai.events import UnreadableItem, UserPreference
from ovenai.events.enums import MarketingPreference
from ovenai.ingest.parse import change_structs as wire
from ovenai.ingest.parse.change_source import ITEM_ERRORS, ChangeSource, unreadable, utc_from_unix
from ovenai.ingest.parse.dedupe_keys import preference_key
from ovenai.ingest.parse.lenient_json import read
from ovenai.ingest.parse.sender_identity import ContactBook


def preference_events(
    source: ChangeSource, metadata: wire.Metadata, book: ContactBook, items: list[Raw]
) -> Iterator[UserPreference | UnreadableItem]:
    """Yield one event per ``user_preferences[]`` item, in order."""
    for index, raw in enumerate(items):
        try:
            yield _preference(source, metadata, book, read(raw, wire.UserPreference))
        except ITEM_ERRORS as problem:
            path = source.item_path("user_preferences", index)
            yield unreadable(source, "user_preference", raw, str(problem), path)


def _preference(
    source: ChangeSource, metadata: wire.Metadata, book: ContactBook, item: wire.UserPreference
) -> UserPreference:
    """Convert one preference item, joining the user with ``contacts[]``."""
    timestamp = utc_from_unix(item.timestamp)
    user = book.identify(item.wa_id, item.user_id)
    who = user.user_id or user.wa_id or ""
    return UserPreference(
        dedupe_key=preference_key(who, item.category, item.value, int(timestamp.timestamp())),
        waba_id=source.waba_id,
        phone_number_id=metadata.phone_number_id,
        display_phone_number=metadata.display_phone_number,
        user=user,
        category=item.category,
        value=MarketingPreference.parse(item.value),
        value_raw=item.value,
        timestamp=timestamp,
        detail=item.detail,
    )
