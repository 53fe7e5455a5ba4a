"""Dynamic-membership rules, the subset groups in the sandbox use.

Supported: `user.<property> -eq|-ne|-startsWith|-contains|-notContains "value"` (also `true`,
`false`, `null`), combined with `-and` / `-or`, optional parentheses around each clause.
`-and` binds tighter than `-or`; nested parentheses across operators are not supported.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_CLAUSE = re.compile(
    r"^\(?\s*user\.(?P<prop>\w+)\s+-(?P<op>eq|ne|startsWith|contains|notContains)\s+"
    r'(?P<value>"[^"]*"|true|false|null)\s*\)?$',
    re.IGNORECASE,
)
_OR = re.compile(r"\s+-or\s+", re.IGNORECASE)
_AND = re.compile(r"\s+-and\s+", re.IGNORECASE)

Clause = tuple[str, str, Any]


class RuleError(ValueError):
    pass


@lru_cache(maxsize=256)
def parse_rule(rule: str) -> tuple[tuple[Clause, ...], ...]:
    """The rule as OR-of-AND clauses; raises RuleError when the rule is not understood."""
    alternatives = []
    for part in _OR.split(rule.strip()):
        clauses = []
        for text in _AND.split(part.strip()):
            match = _CLAUSE.match(text.strip())
            if not match:
                raise RuleError(f"Invalid membership rule clause: {text.strip()!r}")
            raw = match["value"]
            value: Any = (
                raw[1:-1]
                if raw.startswith('"')
                else {"true": True, "false": False, "null": None}[raw.lower()]
            )
            clauses.append((match["prop"], match["op"].lower(), value))
        alternatives.append(tuple(clauses))
    return tuple(alternatives)


def _prop(props: dict[str, Any], name: str) -> Any:
    if name in props:
        return props[name]
    lowered = name.lower()
    return next((v for k, v in props.items() if k.lower() == lowered), None)


def _holds(clause: Clause, props: dict[str, Any]) -> bool:
    name, op, expected = clause
    actual = _prop(props, name)
    if isinstance(actual, str) and isinstance(expected, str):
        actual, expected = actual.lower(), expected.lower()
    if op == "eq":
        return actual == expected
    if op == "ne":
        return actual != expected
    if not isinstance(actual, str) or not isinstance(expected, str):
        return False
    if op == "startswith":
        return actual.startswith(expected)
    if op == "contains":
        return expected in actual
    return expected not in actual  # notcontains


def matches_rule(rule: str, props: dict[str, Any]) -> bool:
    try:
        alternatives = parse_rule(rule)
    except RuleError:
        return False
    return any(all(_holds(c, props) for c in clauses) for clauses in alternatives)
