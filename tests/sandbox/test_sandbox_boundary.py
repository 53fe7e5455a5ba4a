"""The sandbox and the portal meet only over HTTP: neither imports the other."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.sandbox.server import REPO_ROOT

PORTAL_PACKAGES = ("portal", "tenants", "provisioning", "reports")


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_sandbox_never_imports_the_portal() -> None:
    for path in (REPO_ROOT / "sandbox").rglob("*.py"):
        if "management" in path.parts:
            continue  # the runsandbox command is hosted by Django, and imports only django
        assert not imported_packages(path) & set(PORTAL_PACKAGES), path


def test_the_portal_never_imports_the_sandbox() -> None:
    for package in PORTAL_PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            assert "sandbox" not in imported_packages(path), path
