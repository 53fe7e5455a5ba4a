"""`--dist loadfile` hands the files out in the order tests/conftest.py sorts them in: the
listed long files first (`HEAVY_FILES`), then the rest by their number of tests. A long file
left off the list counts half a second a test and goes out last, where one pytest worker
runs it alone while the other has nothing left: test_engine_stopped_workers' three tests
(minutes) were handed out 247th of 325 files, test_engine_disrupted_kinds' one 315th."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from tests.conftest import HEAVY_FILES, pytest_collection_modifyitems

REPO_ROOT = Path(__file__).resolve().parents[1]
# A test let run past pytest's 300 s (pyproject.toml).
LONG_MARK = re.compile(r"^\s*@pytest\.mark\.timeout\(", re.MULTILINE)


def test_every_file_with_a_test_allowed_past_the_default_limit_is_handed_out_early():
    files = sorted((REPO_ROOT / "tests").rglob("test_*.py"))
    long = {str(f.relative_to(REPO_ROOT)) for f in files if LONG_MARK.search(f.read_text())}
    assert long, "no test file carries a timeout mark: the check looks for the wrong thing"
    assert sorted(long - set(HEAVY_FILES)) == []


def test_every_listed_long_file_exists():
    assert [path for path in HEAVY_FILES if not (REPO_ROOT / path).is_file()] == []


def handed_out(files: dict[str, int]) -> list[str]:
    """The files in the order the suite's collection hook leaves them, given their tests."""
    items = [
        SimpleNamespace(location=(path, n, f"test_{n}"))
        for path, tests in files.items()
        for n in range(tests)
    ]
    pytest_collection_modifyitems(items)
    return list(dict.fromkeys(item.location[0] for item in items))


def test_the_browser_files_are_handed_out_one_after_another():
    """The `browser` fixture is the package's: a pytest worker that leaves the package for
    another file and comes back starts Playwright and chromium again."""
    order = handed_out(
        {
            "tests/browser/test_accessibility.py": 9,
            "tests/provisioning/test_engine_faults.py": 3,
            "tests/test_many.py": 60,
            "tests/browser/test_one_flow.py": 1,
            "tests/browser/test_two_flows.py": 2,
            "tests/test_few.py": 3,
        }
    )
    browser = [n for n, path in enumerate(order) if path.startswith("tests/browser/")]
    assert browser == list(range(browser[0], browser[0] + 3)), order
    faults, many = "tests/provisioning/test_engine_faults.py", "tests/test_many.py"
    assert order.index(faults) < order.index(many)
    assert order[-1] == "tests/test_few.py"
