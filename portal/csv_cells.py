"""CSV cells a spreadsheet will not run: every export of the portal writes through this."""

# A cell starting with one of these is a formula to Excel and LibreOffice (OWASP's CSV
# injection): it gets a leading single quote, whoever typed it.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
