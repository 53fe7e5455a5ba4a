"""Cursor pages: newest first by primary key, so a page never skips or repeats a row when
rows are added while a client pages through."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db.models import QuerySet
from ninja import Schema
from pydantic import Field

from provisioning.api.problems import Problem

T = TypeVar("T")
MAX_LIMIT = 200
_CURSOR_TAG = "k1:"


class PageQuery(Schema):
    cursor: str | None = Field(
        None, max_length=40, description="The `next_cursor` of the page before; none: the first."
    )
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description="Items on this page.")


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last.")


def page_of(
    queryset: QuerySet,
    query: PageQuery,
    item: Callable[[Any], Any],
    prepare: Callable[[list], Any] | None = None,
) -> dict:
    """One page of `queryset` (newest first), each row through `item`; `prepare`, given the
    page's rows first, reads what they need all at once (a running job's step counts)."""
    rows = queryset.order_by("-pk")
    after = _decode(query.cursor)
    if after is not None:
        rows = rows.filter(pk__lt=after)
    rows = list(rows[: query.limit + 1])
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    if prepare is not None:
        prepare(rows)
    return {
        "items": [item(row) for row in rows],
        "next_cursor": _encode(rows[-1].pk) if more else None,
    }


def _encode(pk: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_TAG}{pk}".encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        text = ""
    number = text.removeprefix(_CURSOR_TAG)
    if not text.startswith(_CURSOR_TAG) or not (number.isascii() and number.isdigit()):
        raise Problem(400, "This cursor is not one this API gave out.", kind="cursor")
    if len(number) > 18:
        raise Problem(400, "This cursor is not one this API gave out.", kind="cursor")
    return int(number)
