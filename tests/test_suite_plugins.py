"""The suite names its pytest plugins (`-p`, pyproject.toml) instead of letting pytest find
them by entry point, which would mark every module of their distributions for assertion
rewriting: some 360 modules of schemathesis, hypothesis and anyio parsed, rewritten and
compiled again in every pytest process, though no test reads their asserts. The test
modules and the conftest files are rewritten as before (the other helpers in tests/ were
not, and are not)."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys

from _pytest.assertion.rewrite import AssertionRewritingHook

import tests.conftest


def rewritten(module) -> bool:
    return isinstance(getattr(module, "__loader__", None), AssertionRewritingHook)


def test_every_installed_plugin_is_loaded(pytestconfig):
    """A plugin added to the dependencies and not to the `-p` list would be left out without
    a word."""
    loaded = {name for name, _ in pytestconfig.pluginmanager.list_name_plugin()}
    missing = [
        f"{dist.metadata['Name']}: -p {entry.name} (or -p {entry.value})"
        for dist in importlib.metadata.distributions()
        for entry in dist.entry_points
        if entry.group == "pytest11" and not {entry.name, entry.value} & loaded
    ]
    assert missing == []


def test_the_plugins_libraries_are_not_rewritten():
    modules = ["schemathesis.core", "hypothesis.core", "anyio._core._eventloop", "django.db"]
    assert [name for name in modules if rewritten(importlib.import_module(name))] == []


def test_the_test_modules_and_conftest_files_are_rewritten():
    assert rewritten(sys.modules[__name__])
    assert rewritten(tests.conftest)
