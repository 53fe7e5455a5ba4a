"""FormatDateTime's .NET custom date and time format strings, read and written through a
fixed table of specifiers (no strptime/strftime locale surprises)."""

from __future__ import annotations

import re
from datetime import datetime

from tenants.mappings.expressions import ExpressionError

MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# specifier -> (the regex that reads it, the datetime field it sets)
READ = {
    "yyyy": (r"(?P<year>\d{4})", "year"),
    "yy": (r"(?P<year2>\d{2})", "year2"),
    "MMMM": (r"(?P<month_name>[A-Za-z]+)", "month_name"),
    "MMM": (r"(?P<month_abbr>[A-Za-z]{3})", "month_abbr"),
    "MM": (r"(?P<month>\d{2})", "month"),
    "M": (r"(?P<month>\d{1,2})", "month"),
    "dddd": (r"[A-Za-z]+", ""),
    "ddd": (r"[A-Za-z]{3}", ""),
    "dd": (r"(?P<day>\d{2})", "day"),
    "d": (r"(?P<day>\d{1,2})", "day"),
    "HH": (r"(?P<hour>\d{2})", "hour"),
    "H": (r"(?P<hour>\d{1,2})", "hour"),
    "hh": (r"(?P<hour12>\d{2})", "hour12"),
    "h": (r"(?P<hour12>\d{1,2})", "hour12"),
    "mm": (r"(?P<minute>\d{2})", "minute"),
    "m": (r"(?P<minute>\d{1,2})", "minute"),
    "ss": (r"(?P<second>\d{2})", "second"),
    "s": (r"(?P<second>\d{1,2})", "second"),
    "tt": (r"(?P<ampm>[AaPp][Mm])", "ampm"),
    "zzz": (r"[+-]\d{2}:\d{2}", ""),
    "K": (r"(?:Z|[+-]\d{2}:\d{2})?", ""),
}
_SPECIFIER = re.compile(
    r"yyyy|yy|MMMM|MMM|MM|M|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|f{1,7}|F{1,7}|tt|zzz|K"
)


def _pieces(fmt: str) -> list[tuple[bool, str]]:
    """(is a specifier, text) pieces of a .NET format; quoted and escaped text is literal."""
    pieces, i = [], 0
    while i < len(fmt):
        if fmt[i] in "'\"":
            end = fmt.find(fmt[i], i + 1)
            end = len(fmt) if end == -1 else end
            pieces.append((False, fmt[i + 1 : end]))
            i = end + 1
        elif fmt[i] == "\\" and i + 1 < len(fmt):
            pieces.append((False, fmt[i + 1]))
            i += 2
        elif match := _SPECIFIER.match(fmt, i):
            pieces.append((True, match.group()))
            i = match.end()
        else:
            pieces.append((False, fmt[i]))
            i += 1
    return pieces


def parse_date(text: str, fmt: str, position: int) -> datetime:
    pattern = []
    for is_specifier, piece in _pieces(fmt):
        if not is_specifier:
            pattern.append(re.escape(piece))
        elif piece[0] in "fF":
            least = 1 if piece[0] == "f" else 0  # F: digits may be left out
            pattern.append(rf"\d{{{least},{len(piece)}}}")
        elif piece in READ:
            regex = READ[piece][0]
            name = READ[piece][1]
            if name and f"(?P<{name}>" in "".join(pattern):
                regex = regex.replace(f"?P<{name}>", "?:")  # a field given twice is read once
            pattern.append(regex)
    found = re.fullmatch("".join(pattern), text.strip())
    if not found:
        raise ExpressionError(f"'{text}' does not match the date format '{fmt}'", position)
    return _datetime(found.groupdict(), text, position)


def _datetime(fields: dict, text: str, position: int) -> datetime:
    year = int(fields.get("year") or 0) or 2000 + int(fields.get("year2") or 0)
    month = int(fields.get("month") or 0)
    for key, names in (("month_name", MONTHS), ("month_abbr", [m[:3] for m in MONTHS])):
        if fields.get(key):
            lowered = [n.casefold() for n in names]
            if fields[key].casefold() not in lowered:
                raise ExpressionError(f"'{fields[key]}' is not a month", position)
            month = lowered.index(fields[key].casefold()) + 1
    hour = int(fields.get("hour") or 0)
    if fields.get("hour12"):
        hour = int(fields["hour12"]) % 12 + (
            12 if (fields.get("ampm") or "").upper() == "PM" else 0
        )
    try:
        return datetime(
            year, month or 1, int(fields.get("day") or 1), hour,
            int(fields.get("minute") or 0), int(fields.get("second") or 0),
        )  # fmt: skip
    except ValueError:
        raise ExpressionError(f"'{text}' is not a valid date", position) from None


def format_date(value: datetime, fmt: str) -> str:
    out = []
    for is_specifier, piece in _pieces(fmt):
        out.append(_write(value, piece) if is_specifier else piece)
    return "".join(out)


def _write(value: datetime, piece: str) -> str:
    if piece[0] in "fF":
        return f"{value.microsecond:06d}0"[: len(piece)]
    hour12 = value.hour % 12 or 12
    table = {
        "yyyy": f"{value.year:04d}", "yy": f"{value.year % 100:02d}",
        "MMMM": MONTHS[value.month - 1], "MMM": MONTHS[value.month - 1][:3],
        "MM": f"{value.month:02d}", "M": str(value.month),
        "dddd": DAYS[value.weekday()], "ddd": DAYS[value.weekday()][:3],
        "dd": f"{value.day:02d}", "d": str(value.day),
        "HH": f"{value.hour:02d}", "H": str(value.hour),
        "hh": f"{hour12:02d}", "h": str(hour12),
        "mm": f"{value.minute:02d}", "m": str(value.minute),
        "ss": f"{value.second:02d}", "s": str(value.second),
        "tt": "AM" if value.hour < 12 else "PM", "zzz": "+00:00", "K": "Z",
    }  # fmt: skip
    return table[piece]
