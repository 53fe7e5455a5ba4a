"""The one guard every CSV export of the portal writes its cells through."""

from __future__ import annotations

import pytest

from portal.csv_cells import neutralise


@pytest.mark.parametrize("cell", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=1+1", "\r=1+1", "\0=1+1"])
def test_a_cell_that_starts_as_a_formula_gets_a_leading_quote(cell):
    """OWASP's CSV injection characters, and the NUL that ASVS 5.0 (V1.2.10) adds to them:
    a spreadsheet drops it and reads the formula after it."""
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Ada", "", "0", "a=b"])
def test_other_cells_are_left_as_they_are(cell):
    assert neutralise(cell) == cell
