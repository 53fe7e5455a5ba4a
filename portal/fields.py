"""Form fields with bounds, for every value a request brings (query string or form).

A value a person can type must never reach arithmetic, a time-zone conversion or the
database outside the range they can hold: an id beyond a bigint, a year 9999 date whose next
day does not exist, a page cursor a hundred thousand years ahead. Each field here turns such
a value into a form error (the page says what is wrong, or the view answers 400) instead of
a server error.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

MAX_ID = 2**63 - 1  # the largest value of a bigint primary key
# Wide enough for any real joiner, report or audit search; narrow enough that a day more, a
# day less or any time zone around it is still a date Python and the databases can hold.
MIN_DATE = dt.date(2000, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_MAX_MICROS = (dt.datetime.combine(MAX_DATE, dt.time(), dt.UTC) - _EPOCH) // _MICROSECOND
_TOKEN_RE = re.compile(r"(\d{1,17})-(\d{1,19})", re.ASCII)
_ID_RE = re.compile(r"\s*\+?(\d{1,19})\s*", re.ASCII)


def parse_id(value: object) -> int | None:
    """The id a value spells (ASCII digits, 1 to MAX_ID), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        match = _ID_RE.fullmatch(str(value))
        if match is None:
            return None
        number = int(match.group(1))
    return number if 1 <= number <= MAX_ID else None


def _date_error(low: dt.date, high: dt.date) -> str:
    # As the pages write dates (Django's "j M Y"): 1 Jan 2000, not 01 Jan 2000.
    return f"Give a date from {low.day} {low:%b %Y} to {high.day} {high:%b %Y}."


class BoundedIntegerField(forms.IntegerField):
    """An integer between min_value and max_value (by default an id: 1 to MAX_ID)."""

    def __init__(self, *, min_value: int = 1, max_value: int = MAX_ID, **kwargs):
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)

    def to_python(self, value):
        # Python refuses to read an integer of more than 4,300 digits with a ValueError, which
        # IntegerField reports as "invalid"; cutting the text first keeps that cheap.
        if isinstance(value, str) and len(value) > 40:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class BoundedDateField(forms.DateField):
    """A calendar date from min_date to max_date (by default MIN_DATE to MAX_DATE)."""

    def __init__(self, *, min_date: dt.date = MIN_DATE, max_date: dt.date = MAX_DATE, **kwargs):
        super().__init__(**kwargs)
        message = _date_error(min_date, max_date)
        self.validators += [
            MinValueValidator(min_date, message=message),
            MaxValueValidator(max_date, message=message),
        ]

    def to_python(self, value):
        if isinstance(value, str):
            value = value[:40]  # no date is longer; the parsers need not see a megabyte
        return super().to_python(value)


def _integer_key(field: forms.ModelMultipleChoiceField) -> bool:
    """Whether the field's choices are looked up by an integer column (an id, usually)."""
    meta = field.queryset.model._meta
    key = field.to_field_name
    column = meta.pk if key in (None, "pk") else meta.get_field(key)
    return isinstance(column, models.IntegerField)


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """A ModelMultipleChoiceField that refuses ids the database cannot hold before it queries.

    Django checks one id at a time for its type only, then asks for all of them with ``__in``:
    an id beyond a bigint made that query fail (OverflowError on SQLite, an error on
    PostgreSQL) instead of the field saying "not one of the choices".
    """

    def _check_values(self, value):
        if _integer_key(self):
            for pk in value:
                if not isinstance(pk, models.Model) and parse_id(pk) is None:
                    raise ValidationError(
                        self.error_messages["invalid_pk_value"],
                        code="invalid_pk_value",
                        params={"pk": pk},
                    )
        return super()._check_values(value)


class KeysetPosition(NamedTuple):
    """A row's place in a list ordered by (timestamp, id), as a page link carries it."""

    timestamp: dt.datetime
    id: int

    @property
    def token(self) -> str:
        return f"{(self.timestamp - _EPOCH) // _MICROSECOND}-{self.id}"


class KeysetCursorField(forms.CharField):
    """A page link's cursor, "<microseconds since 1970>-<id>", read strictly: a time up to
    MAX_DATE and an id up to MAX_ID, else "invalid"."""

    default_error_messages = {"invalid": "That page link is not valid."}

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value) -> KeysetPosition | None:
        text = super().to_python(value)
        if not text:
            return None
        match = _TOKEN_RE.fullmatch(text)
        if match is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        micros, pk = int(match.group(1)), parse_id(match.group(2))
        if micros > _MAX_MICROS or pk is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return KeysetPosition(_EPOCH + micros * _MICROSECOND, pk)


def query_flag(data, name: str) -> bool:
    """A yes/no query parameter as a checkbox reads it: absent, "", "0", "false" are no."""
    return bool(forms.BooleanField(required=False).clean(data.get(name)))


def renamed_query(request, renames: dict[str, str]) -> str | None:
    """The request's address with its old parameter names given their new ones (`renames`:
    old -> new), or None when it uses none: a bookmark from before a rename is redirected to
    the same filters under the new names (a new name given too wins)."""
    old_names = [name for name in renames if name in request.GET]
    if not old_names:
        return None
    query = request.GET.copy()
    for old in old_names:
        values = query.pop(old)
        if renames[old] not in query:
            query.setlist(renames[old], values)
    return f"{request.path}?{query.urlencode()}" if query else request.path


def usable_filters(form: forms.Form) -> dict:
    """The valid part of a list page's filters. Every list page treats its query string
    alike: a value that is not valid is marked on its field with the error, left out, and
    the other filters still apply (HTTP 200), as django-filter's FilterSets do by default.
    A form's own clean() takes out the values its non-field error concerns."""
    form.is_valid()
    return {name: value for name, value in form.cleaned_data.items() if name not in form.errors}


MAX_PAGE = 100_000


class PageForm(forms.Form):
    """The page number of a list (Paginator pages): a bounded whole number, or the first page
    with the error shown (templates/includes/query_errors.html)."""

    page = BoundedIntegerField(
        required=False,
        max_value=MAX_PAGE,
        label="Page",
        error_messages={
            "invalid": f"Give a page number from 1 to {MAX_PAGE}: showing the first page.",
            "min_value": f"Give a page number from 1 to {MAX_PAGE}: showing the first page.",
            "max_value": f"Give a page number from 1 to {MAX_PAGE}: showing the first page.",
        },
    )

    def number(self) -> int:
        return usable_filters(self).get("page") or 1
