"""SCIM filters (RFC 7644 §3.4.2.2): a small recursive-descent parser over the RFC's ABNF and
an evaluator over stored resources. No `eval`.

Precedence per the RFC: grouping, then `not`, then `and`, then `or`. Operators and attribute
names are case-insensitive; string comparison honours the attribute's `caseExact`
(RFC 7643 §2.3.1, §7). Every malformed filter, unknown attribute or comparison the attribute's
type does not allow (`gt` on a boolean, RFC 7644 §3.4.2.2) is 400 `invalidFilter`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.scim.errors import bad_request
from sandbox.scim.paths import Resolved, ResourceSchemas, attr_resolver
from sandbox.scim.schema import Attr

MAX_FILTER_LENGTH = 4096
MAX_DEPTH = 32  # nested groups and `not`s; deeper is refused rather than risking the stack
COMPARE = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
ORDERING = frozenset({"gt", "ge", "lt", "le"})
LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
TOKEN = re.compile(
    r'\s*(?:(?P<punct>[()\[\]])|(?P<string>"(?:[^"\\]|\\.)*")|(?P<word>[^\s()\[\]"]+))'
)
Resolver = Callable[[str], Resolved]


def invalid(detail: str) -> Exception:
    return bad_request("invalidFilter", detail)


# The tree -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compare:
    path: Resolved
    op: str
    value: Any

    def matches(self, item: dict) -> bool:
        values = values_at(item, self.path)
        if self.op == "pr":
            return any(v not in (None, "", [], {}) for v in values)
        if self.value is None:  # `eq null` / `ne null`: present or not (RFC 7644 §3.4.2.2)
            present = any(v is not None for v in values)
            return not present if self.op == "eq" else present
        return any(compare(self.path.leaf, self.op, v, self.value) for v in values)


@dataclass(frozen=True)
class ValuePath:
    path: Resolved
    inner: Any  # a node evaluated per value of the multi-valued attribute

    def matches(self, item: dict) -> bool:
        # The inner filter names sub-attributes of this one: each value is tried alone.
        return any(
            isinstance(v, dict) and self.inner.matches(alone(self.path, v))
            for v in container(item, self.path)
        )


def alone(path: Resolved, value: dict) -> dict:
    single = {path.attr.name: [value]}
    return {path.urn: single} if path.urn else single


@dataclass(frozen=True)
class And:
    left: Any
    right: Any

    def matches(self, item: dict) -> bool:
        return self.left.matches(item) and self.right.matches(item)


@dataclass(frozen=True)
class Or:
    left: Any
    right: Any

    def matches(self, item: dict) -> bool:
        return self.left.matches(item) or self.right.matches(item)


@dataclass(frozen=True)
class Not:
    inner: Any

    def matches(self, item: dict) -> bool:
        return not self.inner.matches(item)


def paths_in(node: Any) -> list[Resolved]:
    """Every attribute a filter reads, for flavours that allow only some."""
    if isinstance(node, Compare):
        return [node.path]
    if isinstance(node, ValuePath):
        return [node.path, *paths_in(node.inner)]
    if isinstance(node, And | Or):
        return [*paths_in(node.left), *paths_in(node.right)]
    return paths_in(node.inner)


# Reading values -------------------------------------------------------------------------------


def container(item: dict, path: Resolved) -> list:
    """The values of the top attribute of `path` in `item`, as a list."""
    holder = item.get(path.urn, {}) if path.urn else item
    value = holder.get(path.attr.name) if isinstance(holder, dict) else None
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def values_at(item: dict, path: Resolved) -> list:
    values = container(item, path)
    if path.sub is not None:
        values = [v.get(path.sub.name) for v in values if isinstance(v, dict)]
    return [v for v in values if v is not None]


def implied_value(path: Resolved) -> Resolved:
    """`emails co "x"` compares each email's `value` (RFC 7644 §3.4.2.2, multi-valued
    complex attributes without a sub-attribute)."""
    if path.sub is None and path.attr.type == "complex" and path.attr.multi:
        value = path.attr.child("value")
        if value is not None:
            return Resolved(path.attr, value, path.urn)
    return path


def compare(attr: Attr, op: str, actual: Any, wanted: Any) -> bool:
    kind = attr.type
    if kind == "boolean":
        return (actual == wanted) == (op == "eq")
    if kind in ("integer", "decimal"):
        return _ordered(op, actual, wanted)
    if kind == "dateTime":
        return _ordered(op, _when(actual), _when(wanted))
    left, right = str(actual), str(wanted)
    if not attr.case_exact:
        left, right = left.lower(), right.lower()
    if op == "co":
        return right in left
    if op == "sw":
        return left.startswith(right)
    if op == "ew":
        return left.endswith(right)
    return _ordered(op, left, right)


def _ordered(op: str, left: Any, right: Any) -> bool:
    return {
        "eq": left == right,
        "ne": left != right,
        "gt": left > right,
        "ge": left >= right,
        "lt": left < right,
        "le": left <= right,
    }[op]


def _when(text: Any) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"{text!r} is not an xsd:dateTime") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# Parsing --------------------------------------------------------------------------------------


def tokens(text: str) -> list[tuple[str, str]]:
    found, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = TOKEN.match(text, pos)
        if match is None:
            raise invalid(f"cannot read the filter at position {pos}")
        kind = match.lastgroup or "word"
        found.append((kind, match.group(kind)))
        pos = match.end()
    return found


class Parser:
    def __init__(self, text: str, schemas: ResourceSchemas) -> None:
        if len(text) > MAX_FILTER_LENGTH:
            raise invalid(f"the filter is longer than {MAX_FILTER_LENGTH} characters")
        self.items = tokens(text)
        self.pos = 0
        self.depth = 0
        self.schemas = schemas

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self.pos + offset
        return self.items[index] if index < len(self.items) else None

    def take(self) -> tuple[str, str]:
        item = self.peek()
        if item is None:
            raise invalid("the filter ends too early")
        self.pos += 1
        return item

    def keyword(self, *words: str) -> str | None:
        item = self.peek()
        if item and item[0] == "word" and item[1].lower() in words:
            self.pos += 1
            return item[1].lower()
        return None

    def expect(self, punct: str) -> None:
        kind, text = self.take()
        if kind != "punct" or text != punct:
            raise invalid(f"expected {punct!r}, found {text!r}")

    def parse(self, resolve: Resolver) -> Any:
        node = self.disjunction(resolve)
        if self.peek() is not None:
            raise invalid(f"unexpected {self.peek()[1]!r} in the filter")
        return node

    def disjunction(self, resolve: Resolver) -> Any:
        node = self.conjunction(resolve)
        while self.keyword("or"):
            node = Or(node, self.conjunction(resolve))
        return node

    def conjunction(self, resolve: Resolver) -> Any:
        node = self.unary(resolve)
        while self.keyword("and"):
            node = And(node, self.unary(resolve))
        return node

    def unary(self, resolve: Resolver) -> Any:
        item = self.peek()
        if item and item[0] == "word" and item[1].lower() == "not":
            nxt = self.peek(1)
            if nxt and nxt == ("punct", "("):
                self.pos += 1
                return Not(self.group(resolve))
        if item == ("punct", "("):
            return self.group(resolve)
        return self.attribute_expression(resolve)

    def group(self, resolve: Resolver) -> Any:
        self.expect("(")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise invalid(f"the filter nests deeper than {MAX_DEPTH}")
        node = self.disjunction(resolve)
        self.expect(")")
        self.depth -= 1
        return node

    def attribute_expression(self, resolve: Resolver) -> Any:
        kind, text = self.take()
        if kind != "word":
            raise invalid(f"expected an attribute name, found {text!r}")
        path = resolve(text)
        if self.peek() == ("punct", "["):
            return self.value_path(path)
        path = implied_value(path)
        op_item = self.take()
        op = op_item[1].lower()
        if op_item[0] != "word" or (op not in COMPARE and op != "pr"):
            raise invalid(f"unknown operator {op_item[1]!r}")
        if op == "pr":
            return Compare(path, "pr", None)
        value = self.comp_value()
        check_comparison(path.leaf, op, value)
        return Compare(path, op, value)

    def value_path(self, path: Resolved) -> ValuePath:
        if path.sub is not None or not (path.attr.type == "complex" and path.attr.multi):
            raise invalid(f"{path.dotted} is not a multi-valued complex attribute")
        self.expect("[")
        inner = self.disjunction(attr_resolver(self.schemas, path.attr, "invalidFilter"))
        self.expect("]")
        return ValuePath(path, inner)

    def comp_value(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            # A string "follows rules from JSON" (Figure 1): RFC 7159 §7's escapes only, no
            # raw control character; another is no filter (400 invalidFilter, §3.12), which
            # json.loads raising used to turn into a 500.
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise invalid(f"{text} is no JSON string: {exc.msg}") from None
        # "compValue = false / null / true / number / string ; rules from JSON" (RFC 7644
        # §3.4.2.2, Figure 1), and JSON's "literal names MUST be lowercase" (RFC 7159 §3):
        # `True` is no value (the sandbox read the literals in any case).
        if kind == "word" and text in LITERALS:
            return LITERALS[text]
        if kind == "word" and re.fullmatch(r"-?\d+(\.\d+)?([eE][+-]?\d+)?", text):
            return json.loads(text)
        raise invalid(f"{text!r} is not a value (string, number, true, false or null)")


def check_comparison(attr: Attr, op: str, value: Any) -> None:
    if value is None:
        if op not in ("eq", "ne"):
            raise invalid(f"null compares only with eq or ne, not {op}")
        return
    kind = attr.type
    if kind in ("boolean", "binary") and op in ORDERING:
        raise invalid(f"{attr.name} is {kind}: {op} is not allowed on it")
    if kind == "boolean" and (op not in ("eq", "ne") or not isinstance(value, bool)):
        raise invalid(f"{attr.name} is boolean: compare it with eq/ne and true or false")
    if kind in ("integer", "decimal"):
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or op in ("co", "sw", "ew"):
            raise invalid(f"{attr.name} is a number: compare it with a number")
    if kind in ("string", "reference", "binary", "dateTime") and not isinstance(value, str):
        raise invalid(f"{attr.name} is a {kind}: compare it with a string")
    if kind == "complex":
        raise invalid(f"{attr.name} is complex: filter on one of its sub-attributes")
    if kind == "dateTime":
        _when(value)


def parse_filter(text: str, schemas: ResourceSchemas) -> Any:
    if not text.strip():
        raise invalid("the filter is empty")
    parser = Parser(text, schemas)
    return parser.parse(lambda name: schemas.resolve(name, "invalidFilter"))
