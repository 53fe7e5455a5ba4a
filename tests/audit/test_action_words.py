"""Every audit action the code can record has words a client admin reads on the audit page
(portal.audit.wording); the code itself stays in the CSV, the filter and a title attribute.

The actions are read from the source, so a new ``record("thing.done", ...)`` without its
words fails here: the literal first argument of ``record``/``event_for`` and of every
function that passes one of its parameters on to them as the action (``_audit``,
``record_about``, ...), the constants such a call chooses between, and the f-string families
expanded from the choices they are built from.
"""

from __future__ import annotations

import ast
import pathlib
import re

from portal.audit.wording import ACTION_WORDS, action_words
from provisioning.models import Step
from provisioning.models_access import AccessRequest, ActionRequest

ROOT = pathlib.Path(__file__).resolve().parents[2]
APPS = ("portal", "tenants", "provisioning", "reports")
RECORDERS = {"record", "event_for"}
ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

# The f-strings that build an action, and every action each can build.
FAMILIES = {
    "directory.{step.action}": {f"directory.{a}" for a in Step.Action.values},
    "directory.{action}": {f"directory.{a}" for a in Step.Action.values},
    "access.{status}": {
        f"access.{s}" for s in (AccessRequest.Status.CANCELLED, AccessRequest.Status.EXPIRED)
    },
    "action_request.{status}": {
        f"action_request.{s}" for s in (ActionRequest.Status.DONE, ActionRequest.Status.DECLINED)
    },
}


def _modules() -> list[tuple[pathlib.Path, ast.Module]]:
    return [
        (path, ast.parse(path.read_text()))
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _wrappers(modules) -> set[str]:
    """Functions that hand one of their parameters on to a recorder (or to another such
    function) as the action."""
    functions = [
        func
        for _, tree in modules
        for func in ast.walk(tree)
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    found = set(RECORDERS)
    while True:
        more = {func.name for func in functions if _passes_a_parameter_to(func, found)}
        if more <= found:
            return found - RECORDERS
        found |= more


def _passes_a_parameter_to(func, callers: set[str]) -> bool:
    params = {a.arg for a in func.args.args + func.args.kwonlyargs}
    return any(
        isinstance(call, ast.Call)
        and _name(call) in callers
        and any(isinstance(arg, ast.Name) and arg.id in params for arg in call.args)
        for call in ast.walk(func)
    )


def _is_partial_of(call: ast.Call, callers: set[str]) -> bool:
    return (
        _name(call) == "partial"
        and bool(call.args)
        and isinstance(call.args[0], ast.Name | ast.Attribute)
        and (call.args[0].attr if isinstance(call.args[0], ast.Attribute) else call.args[0].id)
        in callers
    )


def recordable_actions() -> tuple[set[str], set[str]]:
    """(every action found, the f-string families met that FAMILIES does not know)."""
    modules = _modules()
    callers = RECORDERS | _wrappers(modules)
    actions, unknown = set(), set()
    for _, tree in modules:
        assigned = {}  # action = "a.b" if x else "a.c", then record(action, ...)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and "action" in target.id.lower():
                    assigned.setdefault(target.id, []).append(node.value)
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call):
                continue
            if _name(call) in callers:
                args = call.args
            elif _is_partial_of(call, callers):  # functools.partial(record, "a.b", ...)
                args = call.args[1:]
            else:
                continue
            for arg in args:
                names = [n.id for n in ast.walk(arg) if isinstance(n, ast.Name)]
                values = [arg] + [v for name in names for v in assigned.get(name, [])]
                for value in values:
                    for part in ast.walk(value):
                        if isinstance(part, ast.Constant) and isinstance(part.value, str):
                            if ACTION.match(part.value):
                                actions.add(part.value)
                        elif isinstance(part, ast.JoinedStr):
                            spelled = ast.unparse(part)[2:-1]
                            if spelled in FAMILIES:
                                actions |= FAMILIES[spelled]
                            elif ACTION.match(spelled.split("{")[0] + "x"):
                                unknown.add(spelled)
    return actions, unknown


def test_the_scan_finds_the_actions_recorded_through_wrappers_and_families():
    actions, _ = recordable_actions()
    assert {
        "identity.onboard",  # record("identity.onboard", ...)
        "auth.login",  # _record_with_second_factor("auth.login", ...), then record_about
        "auth.login_failed",  # FAILED_ACTION = {PASSWORD: "auth.login_failed", ...}
        "staff.update",  # action = "staff.create" if creating else "staff.update"
        "scim_rule.move",  # _audit("scim_rule.move", ...)
        "directory.create_user",  # f"directory.{step.action}"
        "action_request.declined",  # f"action_request.{status}"
        "access.deny",
    } <= actions


def test_every_action_the_code_records_has_words():
    actions, unknown = recordable_actions()
    assert not unknown, f"add these f-string actions to FAMILIES: {sorted(unknown)}"
    without = sorted(a for a in actions if a not in ACTION_WORDS)
    assert not without, f"give these audit actions words in portal/audit/wording.py: {without}"


def test_words_are_a_sentence_start_not_the_code():
    for action, words in ACTION_WORDS.items():
        assert words[0].isupper() and "." not in words and "_" not in words, (action, words)


def test_an_unknown_action_still_reads_as_its_code():
    assert action_words("made.up") == "made.up"
