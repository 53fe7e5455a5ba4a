"""`$search` on directory objects, as concepts/search-query-parameter.md describes it.

- Only with header `ConsistencyLevel: eventual` (400 Request_UnsupportedQuery otherwise, in
  the words of concepts/aad-advanced-queries.md); `$count` is not needed for it.
- Syntax: `"property:text"` clauses, each wholly inside double quotes (`\\"` and `\\\\`
  escaped), joined by `AND` / `OR` in upper case, with parentheses.
- Any property `$filter` takes may be searched. displayName and description are matched by
  tokens: both sides are split at spaces, symbols, digits and a lower-to-upper case change,
  and every token searched for must start a token of the value, in any order, ignoring case
  ("displayName:OneVideo" finds "One Video Team"). Other properties match as `startswith`.
- The search and `$filter` both apply (a logical AND).
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.entra.errors import GraphError, bad_request
from sandbox.entra.odata import Fields, Predicate, parse_filter, unsupported_filter

TOKENIZED = frozenset({"displayname", "description"})
_PIECE = re.compile(
    r'\s*(?:(?P<clause>"(?:[^"\\]|\\.)*")|(?P<op>AND|OR)(?=[\s("]|$)|(?P<paren>[()]))'
)


def needs_eventual() -> GraphError:
    return bad_request(
        "Request with $search query parameter only works through MSGraph with a special request "
        "header: 'ConsistencyLevel: eventual'",
        code="Request_UnsupportedQuery",
    )


def invalid_search(text: str) -> GraphError:
    # Graph's own wording for a malformed $search is not published; the status and code are.
    return bad_request(f"Invalid $search query: {text}", code="Request_UnsupportedQuery")


def tokens(text: str) -> list[str]:
    """Words as directory search splits them, lower case; symbols are tokens of their own, and
    words joined only by symbols also count as one ("hello.world" -> hello . world helloworld).
    """
    found: list[str] = []
    for chunk in text.split():
        pieces = _split(chunk)
        found += pieces
        words = [p for p in pieces if p[0].isalnum()]
        if len(words) > 1 and len(words) < len(pieces):
            found.append("".join(words))
    return found


def _split(chunk: str) -> list[str]:
    pieces: list[str] = []
    current = ""
    for char in chunk:
        if current and _kind(char) == _kind(current[-1]) == "alpha":
            if current[-1].islower() and char.isupper():
                pieces.append(current)
                current = ""
        elif current and (_kind(char) != _kind(current[-1]) or _kind(char) == "symbol"):
            pieces.append(current)
            current = ""
        current += char
    if current:
        pieces.append(current)
    return [p.lower() for p in pieces]


def _kind(char: str) -> str:
    if char.isdigit():
        return "digit"
    return "alpha" if char.isalpha() else "symbol"


def _matches(prop: str, value: Any, text: str) -> bool:
    values = value if isinstance(value, list) else [value]
    strings = [v for v in values if isinstance(v, str)]
    if prop.lower() not in TOKENIZED:
        return any(v.lower().startswith(text.lower()) for v in strings)
    wanted = tokens(text)
    have = [t for v in strings for t in tokens(v)]
    return bool(wanted) and all(any(h.startswith(w) for h in have) for w in wanted)


class _SearchParser:
    def __init__(self, text: str, fields: Fields, resource: str) -> None:
        self.text = text
        self.fields = {k.lower(): k for k in fields}
        self.resource = resource
        self.pieces = self._pieces(text)
        self.pos = 0

    def _pieces(self, text: str) -> list[tuple[str, str]]:
        pieces, pos = [], 0
        while pos < len(text.rstrip()):
            match = _PIECE.match(text, pos)
            if not match or match.end() == pos:
                raise invalid_search(text)
            kind = match.lastgroup or ""
            pieces.append((kind, match[kind]))
            pos = match.end()
        return pieces

    def parse(self) -> Predicate:
        if not self.pieces:
            raise invalid_search(self.text)
        predicate = self.expr()
        if self.pos != len(self.pieces):
            raise invalid_search(self.text)
        return predicate

    def take(self, kind: str, value: str | None = None) -> bool:
        if self.pos < len(self.pieces):
            got_kind, got = self.pieces[self.pos]
            if got_kind == kind and (value is None or got == value):
                self.pos += 1
                return True
        return False

    def expr(self) -> Predicate:
        parts = [self.term()]
        while self.take("op", "OR"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda o: any(p(o) for p in parts))

    def term(self) -> Predicate:
        parts = [self.atom()]
        while self.take("op", "AND"):
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else (lambda o: all(p(o) for p in parts))

    def atom(self) -> Predicate:
        if self.take("paren", "("):
            inner = self.expr()
            if not self.take("paren", ")"):
                raise invalid_search(self.text)
            return inner
        if self.pos >= len(self.pieces) or self.pieces[self.pos][0] != "clause":
            raise invalid_search(self.text)
        raw = self.pieces[self.pos][1]
        self.pos += 1
        clause = re.sub(r"\\(.)", r"\1", raw[1:-1])
        name, colon, text = clause.partition(":")
        if not colon or not text:
            raise invalid_search(self.text)
        prop = self.fields.get(name.strip().lower())
        if prop is None:
            raise unsupported_filter(name.strip(), self.resource)
        return lambda o: _matches(prop, o.get(prop), text)


def parse_search(text: str, fields: Fields, resource: str) -> Predicate:
    """A predicate for a `$search` value (its double quotes included)."""
    return _SearchParser(text, fields, resource).parse()


def list_predicate(
    query: dict[str, str], fields: Fields, resource: str, eventual: bool
) -> Predicate | None:
    """A list's $filter and $search together (None without either). `eventual`: the request
    carries ConsistencyLevel: eventual; the advanced operators of $filter also need $count."""
    parts: list[Predicate] = []
    if query.get("$filter"):
        advanced = eventual and query.get("$count", "").lower() == "true"
        parts.append(parse_filter(query["$filter"], fields, resource, advanced=advanced))
    if "$search" in query:
        if not eventual:
            raise needs_eventual()
        parts.append(parse_search(query["$search"], fields, resource))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else (lambda o: all(p(o) for p in parts))
