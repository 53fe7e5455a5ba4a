"""Reading an uploaded CSV file that may be anything: the wrong encoding, a workbook, random
bytes, another delimiter, no header, huge cells, too many rows.

Whatever is wrong with the file as a whole raises `BadFile` with one sentence a technician can
act on; what is wrong with one row (a cell too long, too many cells) is that row's problem.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from provisioning.bulk import columns
from provisioning.bulk.columns import COMMENT, MAX_BYTES, MAX_ROWS

DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs"}
SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook (.xlsx) or another zip file",
    b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls)",
    b"%PDF": "a PDF document",
}
SAVE_AS = "In Excel: File › Save As › “CSV UTF-8 (Comma delimited)”."
CSV_FIELD_LIMIT = csv.field_size_limit()


class BadFile(ValueError):
    """The file as a whole cannot be read; the message says why and what to do."""


@dataclass
class ParsedRow:
    line: int  # the file's line on which the row starts (the header is line 1)
    cells: dict[str, str]
    problems: list[str] = field(default_factory=list)
    too_long: set[str] = field(default_factory=set)  # cut short: their other checks are moot

    @property
    def checkable(self) -> dict[str, str]:
        return {k: v for k, v in self.cells.items() if k not in self.too_long}


@dataclass
class ParsedFile:
    kind: str
    header: list[str]
    rows: list[ParsedRow]
    notes: list[str] = field(default_factory=list)


def parse(data: bytes, kind: str) -> ParsedFile:
    if len(data) > MAX_BYTES:
        raise BadFile(
            f"The file is {megabytes(len(data))}; the most is {megabytes(MAX_BYTES)} "
            f"(about {MAX_ROWS:,} rows). Split it into smaller files."
        )
    text, notes = decode(data)
    lines = text.splitlines()
    header_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_index is None:
        raise BadFile("The file is empty: it needs a header row and one row per person.")
    delimiter = pick_delimiter(lines[header_index], kind)
    if delimiter != ",":
        notes.append(f"The columns are separated by {DELIMITERS[delimiter]}.")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = read_header(reader, kind)
        rows = read_rows(reader, header)
    except csv.Error as exc:
        if "field limit" in str(exc):
            raise BadFile(
                f"Line {reader.line_num} has a cell of more than {CSV_FIELD_LIMIT:,} characters; "
                f'a cell may hold at most {columns.MAX_CELL}. Is a quote (") left open?'
            ) from None
        raise BadFile(f"Line {reader.line_num} cannot be read as CSV: {exc}.") from None
    if not rows:
        raise BadFile("The file has its header but no rows: add one row per person.")
    return ParsedFile(kind, header, rows, notes)


def megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


# -- bytes to text ----------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, list[str]]:
    """UTF-8 (with or without Excel's BOM), UTF-16 with a BOM (Excel's "Unicode text"), or
    Windows-1252 with a note to check the names; anything else is refused."""
    for signature, what in SIGNATURES.items():
        if data.startswith(signature):
            raise BadFile(f"This is {what}, not a CSV file. {SAVE_AS}")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise BadFile(f"The file says it is UTF-16 but is not. {SAVE_AS}") from None
        # Its bytes hold zeros; a NUL character in it is binary data as in any other file
        # (and PostgreSQL refuses it in the stored rows).
        if "\x00" in text:
            raise BadFile(f"This is not a text file (it holds binary data). {SAVE_AS}")
        return text, []
    if b"\x00" in data:
        raise BadFile(f"This is not a text file (it holds binary data). {SAVE_AS}")
    try:
        text, notes = data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise BadFile(f"The file is not UTF-8 text. {SAVE_AS}") from None
        notes = [
            "The file is not UTF-8; it was read as Windows-1252 (Western European). Check the "
            "names below; if any look wrong, save the file as CSV UTF-8 and upload it again."
        ]
    if looks_binary(text[:4096]):
        raise BadFile(f"This is not a text file (it holds control characters). {SAVE_AS}")
    return text, notes


def looks_binary(sample: str) -> bool:
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    return controls > max(2, len(sample) // 100)


# -- the header -------------------------------------------------------------------------------


def pick_delimiter(first_line: str, kind: str) -> str:
    """The delimiter under which the first line names the most known columns."""
    known = set(columns.names(kind))

    def score(delimiter: str) -> int:
        cells = next(csv.reader([first_line], delimiter=delimiter), [])
        return sum(1 for cell in cells if columns.normalise_header(cell) in known)

    best = max(DELIMITERS, key=score)
    if score(best) == 0:
        raise BadFile(no_header_message(first_line, kind))
    return best


def no_header_message(first_line: str, kind: str) -> str:
    shown = first_line.strip()[:80] + ("…" if len(first_line.strip()) > 80 else "")
    return (
        f"The first line must be the header row: {', '.join(columns.names(kind))} (separated by "
        f"commas; semicolons or tabs work too). The first line reads “{shown}”. Download the "
        "template for the columns."
    )


def read_header(reader, kind: str) -> list[str]:
    for cells in reader:
        if any(cell.strip() for cell in cells):
            break
    header = [columns.normalise_header(cell) for cell in cells]
    while header and not header[-1]:
        header.pop()  # trailing delimiters, as spreadsheets write them
    known = columns.names(kind)
    unknown = [name or "(blank)" for name in header if name not in known]
    if unknown:
        other = columns.OFFBOARD if kind == columns.ONBOARD else columns.ONBOARD
        hint = ""
        if set(unknown) <= set(columns.names(other)):
            hint = f" This looks like an {other}ing file: upload it as one."
        raise BadFile(
            f"Unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}. "
            f"The columns of an {kind}ing file are {', '.join(known)}.{hint}"
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise BadFile(f"The header names {', '.join(repeated)} more than once.")
    required = [c.name for c in columns.COLUMNS[kind] if c.required and c.name not in header]
    if required:
        raise BadFile(f"The header lacks the column{'s' if len(required) > 1 else ''} "
                      f"{', '.join(required)}.")  # fmt: skip
    if kind == columns.OFFBOARD and not {"username", "employee_id"} & set(header):
        raise BadFile("The header needs a username or an employee_id column.")
    return header


# -- the rows ---------------------------------------------------------------------------------


def read_rows(reader, header: list[str]) -> list[ParsedRow]:
    limits = {c.name: c.max_length for kind in columns.COLUMNS.values() for c in kind}
    rows: list[ParsedRow] = []
    line = reader.line_num + 1
    for cells in reader:
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith(COMMENT):
            continue
        if len(rows) == MAX_ROWS:
            raise BadFile(
                f"The file has more than {MAX_ROWS:,} rows; the most is {MAX_ROWS:,} per file. "
                "Split it into smaller files."
            )
        rows.append(parsed_row(start, header, cells, limits))
    return rows


def parsed_row(line: int, header: list[str], cells: list[str], limits: dict) -> ParsedRow:
    row = ParsedRow(line, {})
    extra = [cell for cell in cells[len(header) :] if cell.strip()]
    if extra:
        row.problems.append(
            f"The row has {len(header) + len(extra)} cells; the header has {len(header)} "
            "columns. Check for a separator inside a name (put such a cell in quotes)."
        )
    for index, name in enumerate(header):
        value = " ".join(cells[index].split()) if index < len(cells) else ""
        limit = limits[name]
        if len(value) > limit:
            row.problems.append(f"{name} is {len(value):,} characters long; the most is {limit}.")
            value = value[:limit] + "…"
            row.too_long.add(name)
        row.cells[name] = value
    return row
