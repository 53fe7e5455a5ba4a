"""Okta's `search` / `filter` expressions (a SCIM-like subset) compiled to predicates.

Supported: `attr op "value"` with eq, ne, sw, co, ew, gt, ge, lt, le; `attr pr`; `and`, `or`,
`not`, parentheses. String comparisons ignore case, as Okta's do for logins and names (unless
asked otherwise: `filter` values are case-sensitive); timestamps compare as times, so
"2024-05-01T10:00:00Z" equals "2024-05-01T10:00:00.000Z". Which attributes and operators an
endpoint accepts is the endpoint's business: `analyse` reports what an expression uses.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Lookup = Callable[[Any, str], Any]
Predicate = Callable[[Any], bool]

_TOKEN = re.compile(
    r'\s*(?:(?P<paren>[()])|"(?P<string>(?:[^"\\]|\\.)*)"'
    r"|(?P<word>[A-Za-z_][\w.:-]*)|(?P<number>-?\d+(?:\.\d+)?))"
)
_OPERATORS = {"eq", "ne", "sw", "co", "ew", "gt", "ge", "lt", "le"}
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")


class QueryError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(f"unexpected text at position {pos}: {text[pos : pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup or ""
        value: Any = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value)
        elif kind == "number":
            value = float(value) if "." in value else int(value)
        elif kind == "word" and value in ("true", "false", "null"):
            kind, value = "literal", {"true": True, "false": False, "null": None}[value]
        out.append((kind, value))
    return out


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _as_time(value: Any) -> dt.datetime | None:
    if isinstance(value, str) and _TIMESTAMP.match(value):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def _compare(op: str, actual: Any, expected: Any, ignore_case: bool = True) -> bool:
    when, at = _as_time(actual), _as_time(expected)
    if when is not None and at is not None:
        actual, expected = when, at
    elif ignore_case:
        actual, expected = _norm(actual), _norm(expected)
    if op == "eq":
        return actual == expected
    if op == "ne":
        return actual != expected
    if actual is None:
        return False
    if op in ("sw", "co", "ew"):
        if not isinstance(actual, str) or not isinstance(expected, str):
            return False
        return {"sw": actual.startswith, "ew": actual.endswith, "co": actual.__contains__}[op](
            expected
        )
    try:
        return {
            "gt": actual > expected,
            "ge": actual >= expected,
            "lt": actual < expected,
            "le": actual <= expected,
        }[op]
    except TypeError:
        return False


@dataclass
class Analysed:
    """An expression compiled, with what it uses: (attribute, operator) pairs and `not`."""

    predicate: Predicate
    clauses: list[tuple[str, str]] = field(default_factory=list)
    negated: bool = False


class _Parser:
    def __init__(self, text: str, lookup: Lookup, ignore_case: bool = True) -> None:
        self.items = _tokens(text)
        self.pos = 0
        self.lookup = lookup
        self.ignore_case = ignore_case
        self.clauses: list[tuple[str, str]] = []
        self.negated = False

    def peek(self) -> tuple[str, Any] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self) -> tuple[str, Any]:
        item = self.peek()
        if item is None:
            raise QueryError("the expression ends too early")
        self.pos += 1
        return item

    def keyword(self, word: str) -> bool:
        item = self.peek()
        if item is not None and item[0] == "word" and item[1].lower() == word:
            self.pos += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.parse_or()
        if self.peek() is not None:
            raise QueryError(f"unexpected {self.peek()[1]!r}")
        return predicate

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.keyword("or"):
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else lambda obj: any(p(obj) for p in parts)

    def parse_and(self) -> Predicate:
        parts = [self.parse_unary()]
        while self.keyword("and"):
            parts.append(self.parse_unary())
        return parts[0] if len(parts) == 1 else lambda obj: all(p(obj) for p in parts)

    def parse_unary(self) -> Predicate:
        if self.keyword("not"):
            self.negated = True
            inner = self.parse_unary()
            return lambda obj: not inner(obj)
        if self.peek() == ("paren", "("):
            self.take()
            inner = self.parse_or()
            if self.take() != ("paren", ")"):
                raise QueryError("missing )")
            return inner
        return self.parse_comparison()

    def parse_comparison(self) -> Predicate:
        kind, attr = self.take()
        if kind != "word":
            raise QueryError(f"expected an attribute, got {attr!r}")
        kind, op = self.take()
        op = str(op).lower()
        lookup, ignore_case = self.lookup, self.ignore_case
        if kind == "word" and op == "pr":
            self.clauses.append((attr, op))
            return lambda obj: lookup(obj, attr) not in (None, "")
        if kind != "word" or op not in _OPERATORS:
            raise QueryError(f"unknown operator {op!r}")
        kind, expected = self.take()
        if kind not in ("string", "number", "literal"):
            raise QueryError(f"expected a value after {attr} {op}")
        self.clauses.append((attr, op))
        return lambda obj: _compare(op, lookup(obj, attr), expected, ignore_case)


def compile_expression(text: str, lookup: Lookup) -> Predicate:
    """A predicate for `text`; raises QueryError on a malformed expression."""
    return analyse(text, lookup).predicate


def analyse(text: str, lookup: Lookup, ignore_case: bool = True) -> Analysed:
    """`text` compiled, with the attributes and operators it uses; QueryError if malformed."""
    if not text.strip():
        raise QueryError("the expression is empty")
    parser = _Parser(text, lookup, ignore_case)
    predicate = parser.parse()
    return Analysed(predicate, parser.clauses, parser.negated)
