"""The subset of the Okta Expression Language that group rules use, compiled to predicates
over a user's profile.

Supported: `user.<attribute>`, string literals ("..." or '...'), `==`, `!=`, `&&` / `AND`,
`||` / `OR`, `!`, parentheses, and the functions `String.stringContains(a, b)`,
`String.startsWith(a, b)`, `String.endsWith(a, b)`, `String.toLowerCase(a)`,
`String.toUpperCase(a)`. Comparisons are case-sensitive, as Okta's are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Value = Callable[[dict], Any]
Predicate = Callable[[dict], bool]

_TOKEN = re.compile(
    r"""\s*(?:(?P<op>==|!=|&&|\|\||[!(),])|"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>(?:[^'\\]|\\.)*)'"""
    r"""|(?P<name>[A-Za-z_][\w.]*))"""
)
_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "String.stringContains": (2, lambda a, b: isinstance(a, str) and str(b) in a),
    "String.startsWith": (2, lambda a, b: isinstance(a, str) and a.startswith(str(b))),
    "String.endsWith": (2, lambda a, b: isinstance(a, str) and a.endswith(str(b))),
    "String.toLowerCase": (1, lambda a: a.lower() if isinstance(a, str) else a),
    "String.toUpperCase": (1, lambda a: a.upper() if isinstance(a, str) else a),
}


class ExpressionError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos, text = [], 0, text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExpressionError(f"Invalid expression near {text[pos : pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind in ("dq", "sq"):
            kind, value = "string", re.sub(r"\\(.)", r"\1", value)
        elif kind == "name" and value.upper() in ("AND", "OR"):
            kind, value = "op", "&&" if value.upper() == "AND" else "||"
        out.append((kind, value))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        item = self.peek()
        if item is None or (expected is not None and item != ("op", expected)):
            raise ExpressionError(f"Invalid expression: expected {expected or 'more'}")
        self.pos += 1
        return item

    def parse(self) -> Predicate:
        predicate = self.disjunction()
        if self.peek() is not None:
            raise ExpressionError(f"Invalid expression: unexpected {self.peek()[1]!r}")
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.peek() == ("op", "||"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else lambda p: any(part(p) for part in parts)

    def conjunction(self) -> Predicate:
        parts = [self.negation()]
        while self.peek() == ("op", "&&"):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else lambda p: all(part(p) for part in parts)

    def negation(self) -> Predicate:
        if self.peek() == ("op", "!"):
            self.take()
            inner = self.negation()
            return lambda p: not inner(p)
        if self.peek() == ("op", "("):
            self.take()
            inner = self.disjunction()
            self.take(")")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        left = self.operand()
        if self.peek() in (("op", "=="), ("op", "!=")):
            _, op = self.take()
            right = self.operand()
            if op == "==":
                return lambda p: left(p) == right(p)
            return lambda p: left(p) != right(p)
        return lambda p: left(p) is True

    def operand(self) -> Value:
        kind, value = self.take()
        if kind == "string":
            return lambda p: value
        if kind != "name":
            raise ExpressionError(f"Invalid expression: unexpected {value!r}")
        if value in _FUNCTIONS:
            return self.call(value)
        if value.startswith("user.") and value.count(".") == 1:
            attribute = value[len("user.") :]
            return lambda p: p.get(attribute)
        raise ExpressionError(f"Invalid property {value} in expression")

    def call(self, name: str) -> Value:
        arity, function = _FUNCTIONS[name]
        self.take("(")
        args = [self.operand()]
        while self.peek() == ("op", ","):
            self.take()
            args.append(self.operand())
        self.take(")")
        if len(args) != arity:
            raise ExpressionError(f"{name} takes {arity} argument(s)")
        return lambda p: function(*(arg(p) for arg in args))


def compile_rule(text: str) -> Predicate:
    """A predicate over a profile dict; raises ExpressionError when `text` is not valid."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("The expression is empty")
    return _Parser(text).parse()
