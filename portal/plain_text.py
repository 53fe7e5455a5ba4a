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
    if has_control_character(value):
        return "holds a control character: use plain text."
    if value.startswith(FORMULA_TRIGGERS):
        return f"starts with “{value[0]}”, as a spreadsheet formula does."
    return ""


def has_control_character(text: str) -> bool:
    """A C0 or C1 control character (U+0000–U+001F, U+007F–U+009F): no HTML page may show
    one (the Nu checker's "forbidden code point"), nor a directory's name."""
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def printable(text: str) -> str:
    """`text` without what a database column cannot hold or a reader should not see (NUL
    and other control characters): what a sender wrote, kept in a record as far as it can."""
    return "".join(c for c in text if c.isprintable())


def plain_name(value: str) -> None:
    """A form field's validator of the same rule."""
    if problem := name_problem(value):
        raise ValidationError(problem[0].upper() + problem[1:], code="not_plain")
