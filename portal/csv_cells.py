"""CSV cells a spreadsheet will not run: every export of the portal writes through this."""

import csv
import io

# A cell starting with one of these is a formula to Excel and LibreOffice (OWASP's CSV
# injection; ASVS 5.0 V1.2.10 adds the NUL): it gets a leading single quote, whoever typed it.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")

# The media type of an export that is one table whose first line names its columns: RFC 4180
# §3's optional header parameter says so, so that a reader need not guess (RFC 7111 names the
# same type for fragments). The client report is not one table (a title, figures, then tables,
# each with its own heading line), so it is sent without the parameter.
CSV_TABLE = "text/csv; charset=utf-8; header=present"


def writer(buffer: io.StringIO):
    """The CSV writer of every export: CRLF line ends (RFC 4180), and every cell in double
    quotes. Excel cuts a .csv at the system's list separator, ";" in much of Europe, outside
    quotes only: a bare "Ada;=cmd|..." (no comma, so a minimal writer left it unquoted) would
    there be a second cell starting with "=", a formula `neutralise` never saw. OWASP's
    *CSV Injection* asks for every cell to be quoted for this reason."""
    return csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)


def starts_as_formula(text: str) -> bool:
    """Whether a spreadsheet may read `text` as a formula: it starts with a trigger, or does
    once its leading whitespace is gone (a no-break or ideographic space too), as a reader that
    trims cells sees it: LibreOffice's text import with "Trim spaces", Google Sheets' import."""
    return text.startswith(FORMULA_TRIGGERS) or text.lstrip().startswith(FORMULA_TRIGGERS)


def neutralise(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if starts_as_formula(text) else text
