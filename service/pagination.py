"""Keyset pagination: opaque cursors, sort keys and the `{"items", "next_cursor"}` page."""

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel

from service.errors import ItemCode, ValidationError
from service.responses import render_json

ItemT = TypeVar("ItemT")


class SortKey(StrEnum):
    """Sort order of a list; a leading minus means descending."""

    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    UPDATED_AT = "updated_at"
    UPDATED_AT_DESC = "-updated_at"
    NAME = "name"
    NAME_DESC = "-name"

    @property
    def column(self) -> str:
        """The column sorted on."""
        return self.value.lstrip("-")

    @property
    def descending(self) -> bool:
        """Whether the order is descending."""
        return self.value.startswith("-")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list."""

    items: list[ItemT]
    next_cursor: str | None


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended: the sort value and id of its last row."""

    sort: str
    value: str
    last_id: str

    def encode(self) -> str:
        """The opaque cursor string."""
        raw = json.dumps([self.sort, self.value, self.last_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str, sort: str) -> "Cursor":
        """Parse a cursor made for the same sort order; 422 otherwise."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            sort_name, value, last_id = json.loads(raw)
            parsed = cls(str(sort_name), str(value), str(last_id))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as error:
            raise invalid_cursor("the cursor is malformed") from error
        if parsed.sort != sort:
            raise invalid_cursor("the cursor belongs to another sort order")
        return parsed

    def position(self, column: str) -> tuple[str | datetime, uuid.UUID]:
        """The typed (sort value, id) to continue after; 422 if the cursor was tampered with."""
        try:
            value = self.value if column == "name" else datetime.fromisoformat(self.value)
            return value, uuid.UUID(self.last_id)
        except ValueError as error:
            raise invalid_cursor("the cursor is malformed") from error


def invalid_cursor(detail: str) -> ValidationError:
    """A 422 naming the cursor parameter."""
    return ValidationError(
        [{"code": ItemCode.INVALID_VALUE, "parameter": "cursor", "detail": detail}], detail=detail
    )


def page_json(items: list[str], next_cursor: str | None) -> bytes:
    """The page body around items that are already JSON text (embedded by the serializer)."""
    return render_json(
        {"items": [orjson.Fragment(item) for item in items], "next_cursor": next_cursor}
    )


def split_page(rows: list[Any], limit: int, sort: str) -> tuple[list[str], str | None]:
    """Items and next cursor from `limit + 1` rows of (json, sort value text, id)."""
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more:
        _item, value, last_id = rows[-1]
        next_cursor = Cursor(sort, str(value), str(last_id)).encode()
    return [str(row[0]) for row in rows], next_cursor
