"""The documented columns of the two CSV kinds, and the limits of an upload."""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5_000
MAX_CELL = 256  # longer cells are an error of their row (and stored cut short)
ROLE_SEPARATOR = ";"
COMMENT = "#"
# The onboarding template's example person: a file uploaded with that row still in it is told
# so beside it (export.py writes it, validate.py recognises it).
EXAMPLE_PERSON = {"first_name": "Ada", "last_name": "Lovelace", "employee_id": "E-0001"}

ONBOARD = "onboard"
OFFBOARD = "offboard"
KINDS = (ONBOARD, OFFBOARD)


@dataclass(frozen=True)
class Column:
    name: str
    max_length: int
    required: bool = False
    help: str = ""


ONBOARD_COLUMNS = (
    Column("first_name", 64, True, "Given name."),
    Column("last_name", 64, True, "Family name."),
    Column("role", MAX_CELL, True, "One or more role template names, separated by ;"),
    Column("start_date", 10, help="YYYY-MM-DD; blank: today."),
    Column("username", 254, help="Blank: from the role's naming rule."),
    Column("department", 64, help="Blank: the role's."),
    Column("job_title", 128, help="Blank: the role's."),
    Column("office", 64, help="Blank: the role's."),
    Column("usage_location", 16, help="Two letters such as GB; blank: the role's."),
    Column("employee_id", 64, help="The HR system's id."),
    Column(
        "different_person",
        5,
        help="yes: not the same person as an earlier row (same name and start date) or as "
        "someone in the portal; blank: such a row is refused.",
    ),
)

OFFBOARD_COLUMNS = (
    Column("username", 254, help="The person's username (or give employee_id)."),
    Column("employee_id", 64, help="The HR system's id (or give username)."),
    Column("leave_at", 16, help="YYYY-MM-DD or YYYY-MM-DD HH:MM, tenant time; blank: now."),
    Column("okta_mode", 10, help="suspend or deactivate; blank: the options of the upload."),
    Column("delete_after_days", 4, help="0-3650, or never; blank: the options of the upload."),
    Column("keep_groups", MAX_CELL, help="Groups to keep, separated by ;"),
)

COLUMNS = {ONBOARD: ONBOARD_COLUMNS, OFFBOARD: OFFBOARD_COLUMNS}
OKTA_ONLY = frozenset({"okta_mode"})


def shown(kind: str, has_okta: bool) -> tuple[Column, ...]:
    """The columns a tenant's upload page and template list: okta_mode only where the tenant
    has Okta (a file that gives it anyway is still read)."""
    return tuple(c for c in COLUMNS[kind] if has_okta or c.name not in OKTA_ONLY)


def names(kind: str) -> list[str]:
    return [c.name for c in COLUMNS[kind]]


def normalise_header(cell: str) -> str:
    """ "First name", "first-name" and "FIRST_NAME" all name first_name."""
    return "_".join(cell.strip().strip('"').lower().replace("-", " ").split())
