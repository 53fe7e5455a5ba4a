"""The rules of the pages' forms, said in the OpenAPI schema as JSON Schema patterns, so that
a client (or a checker generating requests from the schema) knows what the form will refuse.
The forms still validate, with their own words in the 422's `errors`; a pattern only
describes. The rule itself: portal/plain_text.py (no < or >; not starting as a spreadsheet
formula does once trimmed), tenants/forms.py's `no_markup` and LinesField (list items),
and a usage location's country code (portal/countries.py)."""

from __future__ import annotations

from pydantic import Field

from portal.countries import ISO_3166_ALPHA_2
from portal.plain_text import hidden_ranges

# Trimmed, it starts with none of portal.csv_cells.FORMULA_TRIGGERS (the tab and the return
# are trimmed); no < or >, and none of the invisible characters portal.plain_text refuses
# (controls, format characters, line separators) but the whitespace trimmed at its ends.
_CONTROL = hidden_ranges()
_FIRST = rf"[^\s<>=+\-@{_CONTROL}]"
_REST = rf"[^<>{_CONTROL}]*"
PLAIN_NAME = rf"^\s*{_FIRST}{_REST}\s*$"  # required: something besides spaces
PLAIN_TEXT = rf"^\s*({_FIRST}{_REST}\s*)?$"  # or blank
# A list item (one line: the API refuses \r and \n itself); the form (tenants.forms'
# LinesField) splits a value at the other line breaks Python knows (\v \f \x1c-\x1e \x85
# \u2028 \u2029), trims each part and refuses a control character left in one: a tab or
# U+001F only at a part's ends, among the spaces trimmed with it.
_LINE_BREAK = r"[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]"
_TRIMMED = r"[\t\x1f \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]"
_IN_LINE = r"[^\r\n<>\x00-\x1f\x7f-\x9f\u2028\u2029]"
_PART = rf"{_TRIMMED}*{_IN_LINE}*{_TRIMMED}*"
NO_MARKUP_LINE = rf"^{_PART}(?:{_LINE_BREAK}{_PART})*$"
# Free text of several lines (a reason, a note): tenants/forms.py's `no_markup`, and no NUL,
# which a Django CharField refuses ("Null characters are not allowed").
NO_MARKUP = r"^[^<>\x00]*$"
# provisioning.forms.USERNAME_RE before the form trims and lowers it (its domain must be the
# tenant's besides, which no schema can say); blank: the naming rule's.
USERNAME_OR_BLANK = r"^\s*([A-Za-z0-9]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?@[A-Za-z0-9.-]+\s*)?$"


def _either_case(letter: str) -> str:
    return f"{letter}{letter.lower()}"


def _country_codes() -> str:
    """ISO_3166_ALPHA_2 as alternatives in either case, one per first letter ([Gg][ABD…])."""
    seconds: dict[str, list[str]] = {}
    for code in sorted(ISO_3166_ALPHA_2):
        seconds.setdefault(code[0], []).append(_either_case(code[1]))
    return "|".join(f"[{_either_case(first)}][{''.join(rest)}]" for first, rest in seconds.items())


# The form's usage_location_cleaned: blank, or a country's code in either case (with
# maxLength 2, so trimming leaves nothing else); two letters that are no country ("XY",
# "UK") are refused by name.
COUNTRY_OR_BLANK = rf"^(\s*|{_country_codes()})$"


def described(pattern: str) -> dict:
    """A field's keyword arguments that put `pattern` in the schema without validating it."""
    return {"json_schema_extra": {"pattern": pattern}}


def plain_name(description: str, **kwargs):
    return Field(description=description, **kwargs, **described(PLAIN_NAME))


def plain_text(default, description: str, **kwargs):
    return Field(default, description=description, **kwargs, **described(PLAIN_TEXT))
