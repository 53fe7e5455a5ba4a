"""Bounded query-parameter types shared by the read endpoints: every string has a length
limit and no control characters (PostgreSQL refuses NUL bytes), every id fits the column."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Annotated

from ninja import Path
from pydantic import AfterValidator, Field, WithJsonSchema

from portal.fields import MAX_DATE, MIN_DATE

MAX_ID = 2**31 - 1  # the largest id an integer column holds
TEXT = r"^[^\x00-\x1f\x7f-\x9f]*$"  # no control characters (C0, DEL, C1)
SLUG = r"^[-a-zA-Z0-9_]{1,60}$"

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="The object's id.")]
PathSlug = Annotated[str, Path(pattern=SLUG, max_length=60, description="The tenant's slug.")]


def text(max_length: int, description: str):
    """An optional free-text filter of at most `max_length` printable characters."""
    return Field(None, max_length=max_length, pattern=TEXT, description=description)


def slug(description: str = "Only this tenant (its slug)."):
    return Field(None, max_length=60, pattern=SLUG, description=description)


def _within_bounds(value: datetime) -> datetime:
    """A time whose date, as written (in its own offset), is in portal.fields' range, as the
    schema's pattern says it; a naive one is read as UTC. A day either side of that range is
    still one the databases hold."""
    if not (MIN_DATE <= value.date() <= MAX_DATE):
        raise ValueError(f"Give a time from {MIN_DATE} to {MAX_DATE}.")
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _date_within_bounds(value: date) -> date:
    if not (MIN_DATE <= value <= MAX_DATE):
        raise ValueError(f"Give a date from {MIN_DATE} to {MAX_DATE}.")
    return value


# The bounds of a day as the schema can say them (JSON Schema has no minimum for a date):
# years 2000 to 2100 are exactly MIN_DATE to MAX_DATE.
DAY_IN_BOUNDS = r"^(20[0-9]{2}|2100)-"
When = Annotated[
    datetime,
    AfterValidator(_within_bounds),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": DAY_IN_BOUNDS}),
]
Day = Annotated[
    date,
    AfterValidator(_date_within_bounds),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_IN_BOUNDS}),
]
