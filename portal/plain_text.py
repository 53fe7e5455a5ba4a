"""The one rule for a person's name or attribute as typed, in a form or a CSV cell: plain text
that no spreadsheet runs as a formula when an export or a directory's report carries it."""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

from portal.csv_cells import FORMULA_TRIGGERS

HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Invisible but meaningful in Persian and Indic names (zero-width non-joiner and joiner).
NAME_JOINERS = frozenset("\u200c\u200d")


def name_problem(value: str) -> str:
    """What is wrong with `value` as a name or attribute, as a phrase after its field's name
    ("first_name starts with …"); "" when nothing is."""
    if "<" in value or ">" in value:
        return "holds < or >: use plain text."
    if hidden := next((c for c in value if _hidden(c)), None):
        return f"holds an invisible control character (U+{ord(hidden):04X}): use plain text."
    if value.startswith(FORMULA_TRIGGERS):
        return f"starts with “{value[0]}”, as a spreadsheet formula does."
    return ""


def _hidden(char: str) -> bool:
    """A control, format (a right-to-left override, a zero-width space), line-separator,
    private-use or unassigned character: it changes how a name reads in every list, trail and
    directory that shows it. A space of any width (a pasted no-break space) is no such."""
    return unicodedata.category(char) in HIDDEN_CATEGORIES and char not in NAME_JOINERS


def printable(text: str) -> str:
    """`text` without what a database column cannot hold or a reader should not see (NUL
    and other control characters): what a sender wrote, kept in a record as far as it can."""
    return "".join(c for c in text if c.isprintable())


def plain_name(value: str) -> None:
    """A form field's validator of the same rule."""
    if problem := name_problem(value):
        raise ValidationError(problem[0].upper() + problem[1:], code="not_plain")
