"""OData query options as Graph applies them to directory objects: $filter, $select, $top, paging.

$filter supports `eq`, `ne`, `in (...)`, `startswith(prop,'x')`, `endswith(prop,'x')`, `and`,
`or`, `not` and parentheses, on the properties each resource declares filterable. String
comparisons ignore case, as the directory does.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from sandbox.entra.errors import GraphError, bad_request

Predicate = Callable[[dict[str, Any]], bool]
Known = tuple[frozenset[str], str]  # selectable property names (lower case), type name

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<num>-?\d+(?:\.\d+)?)(?![\w-])"
    r"|(?P<word>[A-Za-z_][\w./-]*))"
)
MAX_TOP = 999
ADVANCED_OPERATORS = {"ne": "ne", "not": "not", "endswith": "endsWith"}
DEFAULT_PAGE = 100


def unsupported_filter(prop: str, resource: str) -> GraphError:
    return bad_request(
        f"Unsupported or invalid query filter clause specified for property '{prop}' of "
        f"resource '{resource}'.",
        code="Request_UnsupportedQuery",
    )


def needs_advanced(operator: str) -> GraphError:
    return bad_request(
        f"Operator '{operator}' is not supported because the required parameters might be "
        "missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. "
        "Refer to https://aka.ms/graph-docs/advanced-queries for more information",
        code="Request_UnsupportedQuery",
    )


def invalid_filter(text: str) -> GraphError:
    return bad_request(f"Invalid filter clause: {text}", code="BadRequest")


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise invalid_filter(text)
        pos = match.end()
        kind = match.lastgroup or ""
        raw = match[kind]
        if kind == "str":
            tokens.append(("lit", raw[1:-1].replace("''", "'")))
        elif kind == "num":
            tokens.append(("lit", float(raw) if "." in raw else int(raw)))
        elif kind == "word" and raw.lower() in ("true", "false", "null"):
            tokens.append(("lit", {"true": True, "false": False, "null": None}[raw.lower()]))
        else:
            tokens.append((kind, raw))
    return tokens


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class _Parser:
    def __init__(self, text: str, fields: dict[str, str], resource: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.fields = {k.lower(): k for k in fields}
        self.resource = resource

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> tuple[str, Any]:
        token = self.peek()
        if token is None:
            raise invalid_filter(self.text)
        self.pos += 1
        return token

    def expect(self, kind: str, value: str | None = None) -> Any:
        got_kind, got = self.next()
        if got_kind != kind or (value is not None and str(got).lower() != value):
            raise invalid_filter(self.text)
        return got

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() == word:
            self.pos += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.expr()
        if self.peek() is not None:
            raise invalid_filter(self.text)
        return predicate

    def expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.keyword("or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda o: any(p(o) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.keyword("and"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda o: all(p(o) for p in parts))

    def field(self, name: str) -> str:
        real = self.fields.get(name.lower())
        if real is None:
            raise unsupported_filter(name, self.resource)
        return real

    def literal(self) -> Any:
        kind, value = self.next()
        if kind != "lit":
            raise invalid_filter(self.text)
        return _norm(value)

    def unary(self) -> Predicate:
        if self.keyword("not"):
            inner = self.unary()
            return lambda o: not inner(o)
        kind, value = self.next()
        if kind == "punct" and value == "(":
            inner = self.expr()
            self.expect("punct", ")")
            return inner
        if kind != "word":
            raise invalid_filter(self.text)
        if value.lower() in ("startswith", "endswith") and self.peek() == ("punct", "("):
            return self.function(value.lower())
        return self.comparison(self.field(value))

    def function(self, name: str) -> Predicate:
        self.expect("punct", "(")
        prop = self.field(self.expect("word"))
        self.expect("punct", ",")
        needle = self.literal()
        self.expect("punct", ")")
        if not isinstance(needle, str):
            raise invalid_filter(self.text)

        def check(obj: dict[str, Any]) -> bool:
            value = _norm(obj.get(prop))
            if not isinstance(value, str):
                return False
            return value.startswith(needle) if name == "startswith" else value.endswith(needle)

        return check

    def comparison(self, prop: str) -> Predicate:
        kind, op = self.next()
        op = str(op).lower()
        if op == "in":
            self.expect("punct", "(")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.pos += 1
                values.append(self.literal())
            self.expect("punct", ")")
            return lambda o: _norm(o.get(prop)) in values
        if kind != "word" or op not in ("eq", "ne"):
            raise invalid_filter(self.text)
        value = self.literal()
        if op == "eq":
            return lambda o: _norm(o.get(prop)) == value
        return lambda o: _norm(o.get(prop)) != value


def parse_filter(
    text: str, fields: dict[str, str], resource: str, *, advanced: bool = True
) -> Predicate:
    """A predicate over property dicts; `fields` names the filterable properties.

    Without `advanced` (header ConsistencyLevel: eventual and $count=true), the operators
    Graph reserves for advanced queries (ne, not, endsWith) are refused as Graph refuses them.
    """
    parser = _Parser(text, fields, resource)
    if not advanced:
        for kind, value in parser.tokens:
            if kind == "word" and value.lower() in ADVANCED_OPERATORS:
                raise needs_advanced(ADVANCED_OPERATORS[value.lower()])
    return parser.parse()


def select(
    obj: dict[str, Any],
    query: dict[str, str],
    default: tuple[str, ...],
    known: Known | None = None,
) -> dict:
    """The properties Graph returns: those in $select, else the resource's default set.

    With `known` (lower-case property names and the type name), an unknown $select name is
    400 as Graph answers it.
    """
    raw = query.get("$select")
    names = [n.strip() for n in raw.split(",") if n.strip()] if raw else list(default)
    lowered = {k.lower(): k for k in obj}
    result: dict[str, Any] = {}
    for name in names:
        if known is not None and name.lower() not in known[0]:
            raise bad_request(
                f"Could not find a property named '{name}' on type '{known[1]}'.",
                code="BadRequest",
            )
        key = lowered.get(name.lower())
        result[key or name] = obj.get(key) if key else None
    if "@odata.type" in obj:
        result["@odata.type"] = obj["@odata.type"]
    return result


def page_size(query: dict[str, str]) -> int:
    raw = query.get("$top")
    if raw is None:
        return DEFAULT_PAGE
    try:
        top = int(raw)
    except ValueError:
        raise bad_request(f"Invalid page size specified: '{raw}'.", code="BadRequest") from None
    if not 1 <= top <= MAX_TOP:
        raise bad_request(
            f"Invalid page size specified: '{raw}'. Must be between 1 and {MAX_TOP} inclusive.",
            code="Request_BadRequest",
        )
    return top


def encode_skiptoken(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def decode_skiptoken(token: str) -> dict:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        raise bad_request("Invalid skip token.", code="Request_BadRequest") from None
    if not isinstance(data, dict):
        raise bad_request("Invalid skip token.", code="Request_BadRequest")
    return data


def paged(
    items: list[Any],
    query: dict[str, str],
    url: str,
    context: str,
    cap: int | None = None,
) -> dict:
    """One page of `items` with @odata.nextLink when more follow; the link keeps the query.
    `cap` bounds the page below what $top asks, as some queries do on Graph."""
    size = page_size(query) if cap is None else min(page_size(query), cap)
    offset = 0
    if "$skiptoken" in query:
        offset = decode_skiptoken(query["$skiptoken"]).get("o", 0)
        if not isinstance(offset, int) or offset < 0:
            raise bad_request("Invalid skip token.", code="Request_BadRequest")
    page = items[offset : offset + size]
    body: dict[str, Any] = {"@odata.context": context, "value": page}
    if query.get("$count", "").lower() == "true":
        body["@odata.count"] = len(items)
    if offset + size < len(items):
        rest = {k: v for k, v in query.items() if k != "$skiptoken"}
        rest["$skiptoken"] = encode_skiptoken({"o": offset + size})
        body["@odata.nextLink"] = f"{url}?{urlencode(rest, safe='$,()')}"
    return body
