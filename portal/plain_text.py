"""The one rule for a person's name or attribute as typed, in a form or a CSV cell: plain text
that no spreadsheet runs as a formula when an export or a directory's report carries it."""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

from portal.csv_cells import starts_as_formula

HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
# Invisible but meaningful in Persian and Indic names (zero-width non-joiner and joiner).
NAME_JOINERS = frozenset("\u200c\u200d")


def name_problem(value: str) -> str:
    """What is wrong with `value` as a name or attribute, as a phrase after its field's name
    ("first_name starts with …"); "" when nothing is."""
    if "<" in value or ">" in value:
        return "holds < or >: use plain text."
    if hidden := next((c for c in value if _hidden(c)), None):
        return f"holds an invisible control character (U+{ord(hidden):04X}): use plain text."
    if starts_as_formula(value):
        return f"starts with “{value.lstrip()[:1] or value[0]}”, as a spreadsheet formula does."
    return ""


def _hidden(char: str) -> bool:
    """A control, format (a right-to-left override, a zero-width space), line-separator,
    surrogate or private-use character of the Basic Multilingual Plane: it changes how a name
    reads in every list, trail and directory that shows it. A space of any width (a pasted
    no-break space) is no such. Only the BMP, so that the API schema can say the same rule as
    a pattern of \\u ranges (`hidden_ranges`) that every regex dialect reads alike."""
    return (
        ord(char) <= 0xFFFF
        and unicodedata.category(char) in HIDDEN_CATEGORIES
        and char not in NAME_JOINERS
    )


def hidden_ranges() -> str:
    """The characters `_hidden` refuses, as the inside of a regex character class. Without
    the surrogates, which no regex dialect takes in a class and no JSON text carries alone."""
    ranges, start = [], None
    for code in range(0x10001):
        hidden = code <= 0xFFFF and not 0xD800 <= code <= 0xDFFF and _hidden(chr(code))
        if hidden and start is None:
            start = code
        elif not hidden and start is not None:
            last = code - 1
            ranges.append(f"\\u{start:04x}" + (f"-\\u{last:04x}" if last > start else ""))
            start = None
    return "".join(ranges)


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
