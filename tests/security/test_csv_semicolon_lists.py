"""Every CSV export as a spreadsheet reads it where the list separator is a semicolon.

Excel opens a .csv with the system's list separator, and in most of Europe (de-DE, fr-FR,
nl-NL, ...) that is ";": a cell is cut at every semicolon outside double quotes. A name
"Ada;=cmd|' /C calc'!A0" holds no comma or quote, so a writer that quotes only what it must
left it bare, and that spreadsheet read a second cell starting with "=": a formula the leading
quote of portal.csv_cells.neutralise never saw. OWASP's *CSV Injection* asks for every cell
to be wrapped in double quotes for this reason (attack15).
"""

from __future__ import annotations

from django.urls import reverse

from portal.audit.events import record
from portal.csv_cells import FORMULA_TRIGGERS
from provisioning.bulk.export import write_rows
from tests.reports.history import at, job, person

NAME = "Ada;=cmd|' /C calc'!A0"
PERIOD = {"period": "custom", "start": "2026-01-05", "end": "2026-01-18"}


def semicolon_cells(text: str) -> list[str]:
    """The cells of `text` as a semicolon-separated spreadsheet cuts them: at ";" or a line
    end outside double quotes (each quote toggles, so a doubled one keeps the state)."""
    cells, cell, quoted = [], "", False
    for char in text.lstrip("\ufeff"):
        if char == '"':
            quoted = not quoted
        if not quoted and char in ";\r\n":
            cells.append(cell)
            cell = ""
        else:
            cell += char
    return [*cells, cell]


def formulas(text: str) -> list[str]:
    return [cell for cell in semicolon_cells(text) if cell.startswith(FORMULA_TRIGGERS)]


def test_the_client_report_runs_no_formula_in_a_semicolon_spreadsheet(client, alpha):
    ada = person(alpha, "Ada", "Semicolon")
    ada.display_name = NAME
    ada.save()
    job(alpha, ada, "join", created=at("2026-01-06", 9), hours=1)
    client.force_login(alpha.account_manager)

    response = client.get(reverse("client_report_csv", kwargs={"tenant": "alpha"}), PERIOD)

    text = response.content.decode("utf-8")
    assert NAME in text
    assert formulas(text) == []


def test_the_audit_export_runs_no_formula_in_a_semicolon_spreadsheet(client, alpha, msp_admin):
    record("identity.update", actor=msp_admin, tenant=alpha.tenant, target=("identity", 1, NAME))
    client.force_login(msp_admin)

    response = client.get(reverse("audit_export"), {"tenant": "alpha"})

    text = b"".join(response.streaming_content).decode("utf-8")
    assert NAME in text
    assert formulas(text) == []


def test_a_bulk_csv_runs_no_formula_in_a_semicolon_spreadsheet():
    text = write_rows([["display_name", "line"], [NAME, "3"]])

    assert NAME in text
    assert formulas(text) == []
