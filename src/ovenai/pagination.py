"""Cursor pagination over time-ordered ids (newest first)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select

from ovenai.errors import InvalidInput

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageQuery(BaseModel):
    """Where a list starts and how long a page is; list filters extend it."""

    model_config = ConfigDict(extra="forbid")

    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and the cursor of the next, if any."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: str) -> str:
    """An opaque cursor pointing after `last_id`."""
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The id a cursor points after; InvalidInput for a cursor we did not make."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("the cursor is not valid", field="cursor") from exc
    if len(value) != 36:
        raise InvalidInput("the cursor is not valid", field="cursor")
    return value


def paginate(query: Select[Any], id_column: Any, page: PageQuery) -> Select[Any]:
    """Order newest first and start after the cursor; fetches one extra row to see more."""
    if page.cursor:
        query = query.where(id_column < decode_cursor(page.cursor))
    return query.order_by(id_column.desc()).limit(page.limit + 1)


def page_of(rows: list[T], page: PageQuery, id_of: Any) -> Page[T]:
    """Cut the extra row off and make the next cursor from the last item shown."""
    more = len(rows) > page.limit
    items = rows[: page.limit]
    next_cursor = encode_cursor(id_of(items[-1])) if more and items else None
    return Page(items=items, next_cursor=next_cursor)
