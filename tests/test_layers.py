"""The import rules of DESIGN.md hold: the contracts in pyproject.toml, checked by import-linter
(as `make lint` does), so a new cycle or an upward import fails the suite."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(no_cache=True, no_logo=True))"
)


def test_every_import_contract_is_kept():
    run = subprocess.run(
        [sys.executable, "-c", LINT], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_the_contracts_name_the_rules_of_the_design():
    """The rules are in the configuration (a contract removed to make the check pass shows)."""
    config = (ROOT / "pyproject.toml").read_text()
    for rule in (
        "The sandbox imports nothing of the product",
        "The product imports nothing of the sandbox",
        "Apps in their order: reports > provisioning > tenants > portal",
        "The engine imports no feature",
        "Inside provisioning:",
        "Inside lifecycle:",
        "Inside bulk:",
        "Inside webhook:",
        "Inside access:",
        "A feature's actions and look-ups import no forms",
        "A feature's models import only models",
    ):
        assert rule in config, rule
