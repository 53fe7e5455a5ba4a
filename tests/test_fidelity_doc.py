"""docs/sandbox-fidelity.md names, for every behaviour, the test that pins it: each name
must be a test that exists, so a renamed or deleted test shows here, not in a review."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "sandbox-fidelity.md"
REFERENCE = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def table_rows() -> list[str]:
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| ")]
    return [r for r in rows if not r.startswith("| behaviour") and not r.startswith("| ---")]


def test_every_test_the_document_names_exists():
    references = [m.groups() for row in table_rows() for m in REFERENCE.finditer(row)]
    assert len(references) > 100
    missing = [
        f"{path}::{name}"
        for path, name in references
        if not (ROOT / path).exists()
        or not re.search(rf"^\s*(async )?def {name}\(", (ROOT / path).read_text(), re.M)
    ]
    assert missing == []


def test_every_sandbox_behaviour_row_names_its_source_and_a_test_or_says_why_not():
    lacking = []
    for row in table_rows():
        cells = [c.strip() for c in row.strip("|").split("|")]
        if len(cells) != 4:  # the engine tables: behaviour, what the portal does, test
            continue
        _, _, source, test = cells
        if not source or not (REFERENCE.search(test) or "not modelled" in test):
            lacking.append(cells[0])
    assert lacking == []
