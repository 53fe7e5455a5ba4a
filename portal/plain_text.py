"""The one rule for a person's name or attribute as typed, in a form or a CSV cell: plain text
that no spreadsheet runs as a formula when an export or a directory's report carries it."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from portal.csv_cells import FORMULA_TRIGGERS


def name_problem(value: str) -> str:
    """What is wrong with `value` as a name or attribute, as a phrase after its field's name
    ("first_name starts with …"); "" when nothing is."""
    if "<" in value or ">" in value:
        return "holds < or >: use plain text."
    if value.startswith(FORMULA_TRIGGERS):
        return f"starts with “{value[0]}”, as a spreadsheet formula does."
    return ""


def printable(text: str) -> str:
    """`text` without what a database column cannot hold or a reader should not see (NUL
    and other control characters): what a sender wrote, kept in a record as far as it can."""
    return "".join(c for c in text if c.isprintable())


def plain_name(value: str) -> None:
    """A form field's validator of the same rule."""
    if problem := name_problem(value):
        raise ValidationError(problem[0].upper() + problem[1:], code="not_plain")
