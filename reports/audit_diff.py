"""An event's before/after as a readable difference: one line per key, nested keys dotted.

Lists of plain values (groups, licences) say which items were added and which removed, which
is what a reader wants from ["A", "B"] -> ["A", "C"].
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from portal.licences import licence_words

ADDED, REMOVED, CHANGED, SAME = "added", "removed", "changed", "same"
_MISSING = object()
_MAX_DEPTH = 3


@dataclass(frozen=True)
class DiffLine:
    key: str
    kind: str  # ADDED, REMOVED, CHANGED or SAME
    before: str = ""
    after: str = ""
    items_added: list[str] = field(default_factory=list)
    items_removed: list[str] = field(default_factory=list)


def diff(before: Any, after: Any) -> list[DiffLine]:
    """The lines of before -> after; changes first, then what stayed the same."""
    old, new = _flatten(before), _flatten(after)
    lines = [_line(key, old.get(key, _MISSING), new.get(key, _MISSING)) for key in {**old, **new}]
    order = {CHANGED: 0, ADDED: 1, REMOVED: 2, SAME: 3}
    return sorted(lines, key=lambda line: (order[line.kind], line.key))


# A step's event whose "target" is a licence's part number (engine/steps.step_event).
LICENCE_TARGETS = ("directory.assign_license", "directory.remove_license")


def named_licences(action: str, lines: list[DiffLine]) -> list[DiffLine]:
    """The product's name beside a step event's licence ("SPE_E3 — Microsoft 365 E3"), when
    the event is shown: the stored, hashed event keeps the part number alone."""
    if action not in LICENCE_TARGETS:
        return lines
    return [
        replace(line, after=licence_words(line.after)) if line.key == "target" else line
        for line in lines
    ]


def changed_count(lines: list[DiffLine]) -> int:
    return sum(1 for line in lines if line.kind != SAME)


def show(value: Any) -> str:
    """A value as a reader sees it: text as itself, everything else as compact JSON."""
    if value is _MISSING:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _flatten(state: Any, prefix: str = "", depth: int = 0) -> dict[str, Any]:
    if state is None:
        return {}
    if not isinstance(state, dict):
        return {prefix or "value": state}
    flat: dict[str, Any] = {}
    for key, value in state.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value and depth < _MAX_DEPTH:
            flat.update(_flatten(value, name, depth + 1))
        else:
            flat[name] = value
    return flat


def _line(key: str, old: Any, new: Any) -> DiffLine:
    if old is _MISSING:
        return DiffLine(key, ADDED, after=show(new))
    if new is _MISSING:
        return DiffLine(key, REMOVED, before=show(old))
    if old == new:
        return DiffLine(key, SAME, before=show(old), after=show(new))
    line = DiffLine(key, CHANGED, before=show(old), after=show(new))
    if _plain_list(old) and _plain_list(new):
        line.items_added.extend(show(v) for v in new if v not in old)
        line.items_removed.extend(show(v) for v in old if v not in new)
    return line


def _plain_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)
