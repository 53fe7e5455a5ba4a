"""OData query options as Graph applies them to directory objects: $filter, $search, $count,
$select, $top, paging.

$filter supports `eq`, `ne`, `in (...)`, `ge`, `le`, `startswith(prop,'x')`,
`endswith(prop,'x')`, `coll/any(v:...)`, `and`, `or`, `not` and parentheses, on the properties
each resource declares filterable, each with the operators Graph allows on it by default and
those it allows only in advanced queries (header `ConsistencyLevel: eventual` and
`$count=true`): concepts/aad-advanced-queries.md and includes/filter-directory-objects.md.
String comparisons ignore case, as the directory does.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sandbox.entra.errors import GraphError, bad_request

Predicate = Callable[[dict[str, Any]], bool]
Getter = Callable[[Any], Any]
Known = tuple[frozenset[str], str]  # selectable property names (lower case), type name

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[(),:])"
    r"|(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"(?![\w-])"
    r"|(?P<date>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)"
    r"(?![\w-])"
    r"|(?P<num>-?\d+(?:\.\d+)?)(?![\w-])"
    r"|(?P<word>[A-Za-z_$][\w./$-]*))"
)
MAX_TOP = 999
DEFAULT_PAGE = 100
# How Graph spells the operators that need advanced query parameters in its message.
OPERATOR_NAMES = {"ne": "ne", "not": "not", "endswith": "endsWith"}


@dataclass(frozen=True)
class Filterable:
    """The $filter operators Graph allows on one property: by default, and only with the
    advanced query parameters. Operators: eq, ne, not, in, ge, le, startswith, endswith and
    null (`eq null` / `ne null`); a collection is filtered through `any` with these."""

    default: frozenset[str]
    advanced: frozenset[str] = frozenset()
    collection: bool = False


def filterable(default: str, advanced: str = "", *, collection: bool = False) -> Filterable:
    return Filterable(frozenset(default.split()), frozenset(advanced.split()), collection)


# What a resource that names its filterable properties without more detail allows (groups,
# service principals): eq, in and startsWith by default; ne, not and endsWith advanced.
USUAL = filterable("eq in startswith ge le null", "ne not endswith")
Fields = dict[str, str] | dict[str, Filterable]


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


# The filterable Edm.Boolean properties of users and groups (resources/user.md, group.md).
BOOLEANS = frozenset({"accountEnabled", "onPremisesSyncEnabled", "mailEnabled", "securityEnabled"})


def invalid_filter(text: str) -> GraphError:
    return bad_request(f"Invalid filter clause: {text}", code="BadRequest")


# "When using the in operator, the request is limited to 15 expressions in the filter clause
# by default OR a URL length of 2,048 characters when using advanced query capabilities"
# (concepts/known-issues.md, query parameters, $filter). An `in` list is its values joined
# by `or`, so both count toward one disjunction's children; Graph's answer is 400
# Request_UnsupportedQuery "Too many child clauses specified in search filter expression
# containing 'OR' operators: 18. Max allowed: 15." (a 2019 Graph response quoted verbatim in
# a public script; the docs do not give the text; Stack Overflow 66579149 "Microsoft Graph
# client retrieve more than 15 users" on the same cap). The advanced queries' URL length is
# not modelled.
MAX_OR_CHILDREN = 15


def too_many_clauses(count: int) -> GraphError:
    return bad_request(
        "Too many child clauses specified in search filter expression containing 'OR' "
        f"operators: {count}. Max allowed: {MAX_OR_CHILDREN}.",
        code="Request_UnsupportedQuery",
    )


# Directory objects are keyed by a GUID (resources/directoryobject.md, id). Graph answers an
# id that is no GUID with 400 Request_BadRequest "Invalid object identifier '<id>'."
# (AzureAD/microsoft-authentication-library-for-dotnet#1321, a group's members under a
# non-GUID id); the sandbox gives the same for `id eq '<not a GUID>'` in $filter, where it
# returned an empty list (the refusal's text in a filter is not published).
DIRECTORY_OBJECTS = frozenset({"User", "Group", "ServicePrincipal", "AdministrativeUnit"})
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def check_object_id(value: Any) -> None:
    if isinstance(value, str) and not _GUID.fullmatch(value):
        raise bad_request(f"Invalid object identifier '{value}'.")


def check_guid_literal(value: Any) -> None:
    """A string where the schema types an Edm.Guid (a licence's skuId, an assignment's
    appRoleId): OData's reader converts it as it reads the payload, before the directory
    looks anything up, and refuses one that is no GUID in these words (Graph's answer to a
    part number given as a SKU id in assignLicense, and to '' in delegatedPermissionIds)."""
    if isinstance(value, str) and not _GUID.fullmatch(value):
        raise bad_request(
            f"Cannot convert the literal '{value}' to the expected type 'Edm.Guid'.",
            code="BadRequest",
        )


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
        elif kind in ("guid", "date"):
            tokens.append(("lit", raw))
        elif kind == "num":
            tokens.append(("lit", float(raw) if "." in raw else int(raw)))
        elif kind == "word" and raw.lower() in ("true", "false", "null"):
            tokens.append(("lit", {"true": True, "false": False, "null": None}[raw.lower()]))
        else:
            tokens.append((kind, raw))
    return tokens


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _compare(op: str, left: Any, right: Any) -> bool:
    left = _norm(left)
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if left is None or right is None or type(left) is not type(right):
        return False
    return left >= right if op == "ge" else left <= right


@dataclass(frozen=True)
class _Operand:
    name: str  # the property, as the resource spells it
    get: Getter
    rule: Filterable


class _Parser:
    def __init__(self, text: str, fields: Fields, resource: str, advanced: bool) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.fields = {
            k.lower(): (k, v if isinstance(v, Filterable) else USUAL) for k, v in fields.items()
        }
        self.resource = resource
        self.advanced = advanced
        self.scope: tuple[str, _Operand] | None = None  # the range variable inside any(...)
        # The `or` children of what was parsed last: an `in` list's values, a parenthesised
        # disjunction's children (they join the enclosing one), else 1.
        self.width = 1

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

    def allow(self, operand: _Operand, op: str) -> None:
        """400 as Graph answers an operator the property does not take (here, or without the
        advanced query parameters)."""
        rule = operand.rule
        if op in rule.default or (self.advanced and op in rule.advanced):
            return
        if op in rule.advanced and op in OPERATOR_NAMES:
            raise needs_advanced(OPERATOR_NAMES[op])
        raise unsupported_filter(operand.name, self.resource)

    def parse(self) -> Predicate:
        predicate = self.expr()
        if self.peek() is not None:
            raise invalid_filter(self.text)
        return predicate

    def expr(self) -> Predicate:
        parts = [self.and_expr()]
        width = self.width
        while self.keyword("or"):
            parts.append(self.and_expr())
            width += self.width
        self.check_width(width)
        self.width = width
        return parts[0] if len(parts) == 1 else (lambda o: any(p(o) for p in parts))

    def check_width(self, width: int) -> None:
        if width > MAX_OR_CHILDREN and not self.advanced:
            raise too_many_clauses(width)

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.keyword("and"):
            parts.append(self.unary())
        if len(parts) == 1:
            return parts[0]
        self.width = 1
        return lambda o: all(p(o) for p in parts)

    def operand(self, name: str) -> _Operand:
        """A property of the object, or inside any(...) the range variable (or its property)."""
        if self.scope is not None:
            var, element = self.scope
            head, _, sub = name.partition("/")
            if head.lower() == var.lower():
                if not sub:
                    return element
                return _Operand(
                    element.name,
                    lambda e, key=sub: e.get(key) if isinstance(e, dict) else None,
                    element.rule,
                )
        found = self.fields.get(name.lower())
        if found is None:
            raise unsupported_filter(name, self.resource)
        real, rule = found
        return _Operand(real, lambda o, key=real: o.get(key), rule)

    def literal(self) -> Any:
        kind, value = self.next()
        if kind != "lit":
            raise invalid_filter(self.text)
        return _norm(value)

    def unary(self) -> Predicate:
        if self.keyword("not"):
            if not self.advanced:
                raise needs_advanced(OPERATOR_NAMES["not"])
            inner = self.unary()
            self.width = 1
            return lambda o: not inner(o)
        kind, value = self.next()
        if kind == "punct" and value == "(":
            inner = self.expr()
            self.expect("punct", ")")
            return inner
        self.width = 1
        if kind != "word":
            raise invalid_filter(self.text)
        if value.lower() in ("startswith", "endswith") and self.peek() == ("punct", "("):
            return self.function(value.lower())
        if value.lower().endswith("/any") and self.peek() == ("punct", "("):
            return self.lambda_any(value[: -len("/any")])
        operand = self.operand(value)
        if operand.rule.collection and self.scope is None:
            raise unsupported_filter(operand.name, self.resource)  # collections go through any
        return self.comparison(operand)

    def lambda_any(self, name: str) -> Predicate:
        collection = self.operand(name)
        if not collection.rule.collection or self.scope is not None:
            raise unsupported_filter(collection.name, self.resource)
        self.expect("punct", "(")
        var = self.expect("word")
        self.expect("punct", ":")
        self.scope = (var, _Operand(collection.name, lambda e: e, collection.rule))
        body = self.expr()
        self.scope = None
        self.expect("punct", ")")
        self.width = 1
        return lambda o: any(body(e) for e in collection.get(o) or [])

    def function(self, name: str) -> Predicate:
        self.expect("punct", "(")
        operand = self.operand(self.expect("word"))
        if operand.name in BOOLEANS:
            # startsWith / endsWith take strings: an Edm.Boolean in them is the type error
            # Graph answers "Invalid filter clause" (as `accountEnabled eq 'true'`, below)
            raise invalid_filter(self.text)
        self.allow(operand, name)
        self.expect("punct", ",")
        needle = self.literal()
        self.expect("punct", ")")
        if not isinstance(needle, str):
            raise invalid_filter(self.text)

        def check(obj: Any) -> bool:
            value = _norm(operand.get(obj))
            if not isinstance(value, str):
                return False
            return value.startswith(needle) if name == "startswith" else value.endswith(needle)

        return check

    def check_key(self, operand: _Operand, value: Any) -> None:
        if operand.name == "id" and self.resource in DIRECTORY_OBJECTS:
            check_object_id(value)

    def check_type(self, operand: _Operand, value: Any) -> None:
        if value is not None and isinstance(value, bool) != (operand.name in BOOLEANS):
            # Edm.Boolean against a string, or the reverse: "Invalid filter clause"
            # (microsoftgraph/microsoft-graph-docs#3044, msgraph-sdk-powershell#515).
            raise invalid_filter(self.text)

    def comparison(self, operand: _Operand) -> Predicate:
        kind, op = self.next()
        op = str(op).lower()
        if op == "in":
            self.allow(operand, "in")
            self.expect("punct", "(")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.pos += 1
                values.append(self.literal())
            self.expect("punct", ")")
            for v in values:
                self.check_key(operand, v)
                self.check_type(operand, v)  # `in` is `eq` over a list: the same type rule
            self.check_width(len(values))  # an `in` list alone, joined by `and` to more
            self.width = len(values)
            return lambda o: _norm(operand.get(o)) in values
        if kind != "word" or op not in ("eq", "ne", "ge", "le"):
            raise invalid_filter(self.text)
        value = self.literal()
        self.check_key(operand, value)
        self.check_type(operand, value)
        if op == "ne":
            self.allow(operand, "ne")
        if value is None:
            self.allow(operand, "null")
        elif op != "ne":
            self.allow(operand, op)
        return lambda o: _compare(op, operand.get(o), value)


def parse_filter(text: str, fields: Fields, resource: str, *, advanced: bool = True) -> Predicate:
    """A predicate over property dicts; `fields` names the filterable properties (with the
    operators each allows, or USUAL's). `advanced`: the request carries header
    ConsistencyLevel: eventual and $count=true."""
    return _Parser(text, fields, resource, advanced).parse()


def select(
    obj: dict[str, Any],
    query: dict[str, str],
    default: tuple[str, ...],
    known: Known | None = None,
    own: frozenset[str] | None = None,
) -> dict:
    """The properties Graph returns: those in $select, else the resource's default set.

    With `known` (lower-case property names and the type name), an unknown $select name is
    400 as Graph answers it. With `own` (lower-case names of the object's own type, in a
    collection of several derived types such as memberOf), a selected property of another
    type is left out, not answered as null: Graph writes only the properties the object has.
    """
    raw = query.get("$select")
    names = [n.strip() for n in raw.split(",") if n.strip()] if raw else list(default)
    lowered = _lowered(obj)
    result: dict[str, Any] = {}
    for name in names:
        if known is not None and name.lower() not in known[0]:
            raise bad_request(
                f"Could not find a property named '{name}' on type '{known[1]}'.",
                code="BadRequest",
            )
        if own is not None and name.lower() not in own:
            continue
        key = lowered.get(name.lower())
        result[key or name] = obj.get(key) if key else None
    if "@odata.type" in obj:
        result["@odata.type"] = obj["@odata.type"]
    return result


_LOWERED: dict[tuple[str, ...], dict[str, str]] = {}


def _lowered(obj: dict[str, Any]) -> dict[str, str]:
    """Lower-case property name -> the object's own spelling, kept per set of names: the
    objects of one type share a few, and `select` looked every name up again per object."""
    names = tuple(obj)
    found = _LOWERED.get(names)
    if found is None:
        if len(_LOWERED) >= 1024:  # a bound, not a figure to tune
            _LOWERED.clear()
        found = _LOWERED[names] = {k.lower(): k for k in names}
    return found


def check_select(query: dict[str, str], known: Known) -> None:
    """400 at once for a $select name that is no property of the type (`known`), as Graph
    answers it even when nothing matches (the list, or the object, is never looked at)."""
    select({}, query, (), known)


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
    if "$skip" in query:
        # Directory objects page by $skiptoken only: "the /users endpoint supports $top but
        # not $skip" (https://learn.microsoft.com/graph/paging), answered with this 400
        # (msgraph-metadata#135, msgraph-sdk-powershell#1771).
        raise bad_request("'$skip' is not supported by the service.", code="Request_BadRequest")
    size = page_size(query) if cap is None else min(page_size(query), cap)
    offset = 0
    if "$skiptoken" in query:
        offset = decode_skiptoken(query["$skiptoken"]).get("o", 0)
        if not isinstance(offset, int) or offset < 0:
            raise bad_request("Invalid skip token.", code="Request_BadRequest")
    page = items[offset : offset + size]
    body: dict[str, Any] = {"@odata.context": context, "value": page}
    if query.get("$count", "").lower() == "true" and offset == 0:
        # "the @odata.count property is present only on the first page of the paged data"
        # (concepts/known-issues.md, "Some limitations apply to query parameters")
        body["@odata.count"] = len(items)
    if offset + size < len(items):
        rest = {k: v for k, v in query.items() if k != "$skiptoken"}
        rest["$skiptoken"] = encode_skiptoken({"o": offset + size})
        body["@odata.nextLink"] = f"{url}?{urlencode(rest, safe='$,()')}"
    return body


def sorting_unsupported() -> GraphError:
    return bad_request("Sorting not supported for current query.", code="Request_UnsupportedQuery")


def ordered(
    items: list[Any],
    query: dict[str, str],
    orderable: dict[str, bool],
    resource: str,
    advanced: bool,
) -> list[Any]:
    """`items` (property dicts) in `$orderby`'s order. `orderable`: property -> whether it
    sorts only in advanced queries (aad-advanced-queries.md's table); `$filter` with `$orderby`
    always needs them ("Sorting not supported for current query.", as Graph answers it)."""
    raw = query.get("$orderby", "").strip()
    if not raw:
        return items
    name, _, direction = raw.partition(" ")
    direction = direction.strip().lower() or "asc"
    real = next((k for k in orderable if k.lower() == name.lower()), None)
    if real is None or (orderable[real] and not advanced) or direction not in ("asc", "desc"):
        raise bad_request(
            f"Unsupported sort property '{name}' for '{resource}'.",
            code="Request_UnsupportedQuery",
        )
    if query.get("$filter") and not advanced:
        raise sorting_unsupported()
    present = [i for i in items if i.get(real) is not None]
    absent = [i for i in items if i.get(real) is None]
    present.sort(key=lambda i: _norm(i[real]), reverse=direction == "desc")
    return present + absent
