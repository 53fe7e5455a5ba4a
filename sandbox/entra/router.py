"""Graph's own small router, so `$batch` can run sub-requests through the same handlers.

Handlers are plain (synchronous) functions: a whole change happens between two awaits of the
server, which is what makes concurrent requests safe on one event loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.entra.errors import GraphError, bad_json, bad_request
from sandbox.entra.model import EntraTenant
from sandbox.entra.odata import Fields, Predicate
from sandbox.entra.search import list_predicate
from sandbox.routing import SegmentIndex

NO_BODY = object()  # the request had no body
BAD_BODY = object()  # the request had a body that is not a JSON object
# Graph's system query options (concepts/query-parameters.md: the OData system query options
# and $skipToken; $deltatoken from the delta functions). Their names are not case-sensitive.
QUERY_OPTIONS = frozenset(
    {
        "$count",
        "$expand",
        "$filter",
        "$format",
        "$orderby",
        "$search",
        "$select",
        "$skip",
        "$top",
        "$skiptoken",
        "$deltatoken",
    }
)


@dataclass
class GraphRequest:
    tenant: EntraTenant
    client_id: str
    method: str
    path: str  # below /v1.0, starting with "/"
    query: dict[str, str]
    body: Any
    base_url: str  # e.g. https://127.0.0.1:8765/v1.0
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    repeated: tuple[str, ...] = ()  # system query options the URL gave more than once

    def __post_init__(self) -> None:
        query = {_option_name(k): v for k, v in self.query.items()}
        self.bad_count = _bad_count(query.get("$count"))
        # "silently ignores the $count query parameter" without ConsistencyLevel: eventual
        # (concepts/aad-advanced-queries.md): as if it had not been sent.
        if not self.eventual():
            query.pop("$count", None)
        self.query = LookedAt(query)
        if self.eventual() and self.path.endswith("/$count"):
            self.query["$count"] = "true"  # the segment is itself the advanced parameter

    def check_query_options(self) -> None:
        """400 for a `$` option Graph does not know: its directory answers an unknown query
        argument so (microsoftgraph/microsoft-graph-docs#3879, `select` without its `$`:
        "Unrecognized query argument specified: 'select'."), where the sandbox ignored it."""
        for name in self.query:
            if name.startswith("$") and name not in QUERY_OPTIONS:
                raise bad_request(f"Unrecognized query argument specified: '{name}'.")
        if self.bad_count is not None:
            raise self.bad_count
        if self.repeated:
            # "The same system query option, irrespective of casing or whether or not it is
            # prefixed with a $, MUST NOT be specified more than once for any resource" (OData
            # 4.01 URL Conventions, §5); the text is OData's (Microsoft.OData.Core), Graph's
            # own is not published. The sandbox kept the last one.
            raise bad_request(
                f"Query option '{self.repeated[0]}' was specified more than once, but it must "
                "be specified at most once.",
                code="BadRequest",
            )

    def eventual(self) -> bool:
        return self.headers.get("consistencylevel", "").lower() == "eventual"

    def json(self) -> dict:
        if self.body is NO_BODY or self.body is BAD_BODY or not isinstance(self.body, dict):
            raise bad_json()
        return self.body

    def advanced_query(self) -> bool:
        """Whether the caller asked for Graph's advanced query capabilities."""
        return self.eventual() and self.query.get("$count", "").lower() == "true"

    def filter(self, fields: Fields, resource: str) -> Predicate | None:
        """$filter and $search as one predicate (None without either); 400 as Graph answers
        bad ones, or ones that need the advanced query parameters without them."""
        return list_predicate(self.query, fields, resource, self.eventual())


class LookedAt(dict):
    """The query options, noting each one a handler looked up (by `get`, `[]` or `in`), so a
    `$filter`, `$orderby`, `$search`, `$select` or `$top` that no handler applied is refused,
    not ignored (`unapplied`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.looked: set[str] = set()

    def get(self, key: Any, default: Any = None) -> Any:
        self.looked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self.looked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.looked.add(key)  # type: ignore[arg-type]
        return super().__contains__(key)


# The options that change which objects come back, their order, or their properties: a
# handler that does not apply one must not answer as if it had not been asked
# (pipeline.execute); a `$select` ignored gave every property, so code reading one it had not
# selected passed here and read null at Graph.
SHAPING_OPTIONS = ("$filter", "$orderby", "$search", "$select", "$top")


def unapplied(query: dict[str, str]) -> list[str]:
    """The shaping options in `query` that the handler never looked up."""
    looked = getattr(query, "looked", None)
    if looked is None:
        return []
    present = set(query)  # iterating looks nothing up
    return [name for name in SHAPING_OPTIONS if name in present and name not in looked]


def repeated_options(pairs: list[tuple[str, str]]) -> tuple[str, ...]:
    """The system query options among a URL's `pairs` that come more than once, in any case."""
    seen: set[str] = set()
    repeated: list[str] = []
    for name, _ in pairs:
        option = name.lower()
        if option not in QUERY_OPTIONS:
            continue
        if option in seen and option not in repeated:
            repeated.append(option)
        seen.add(option)
    return tuple(repeated)


def _bad_count(value: str | None) -> GraphError | None:
    """`$count` is a Boolean (OData URL Conventions §5.1.6: true or false). OData's URI parser
    refuses any other value in these words, case aside (odata.net, ODataUriParser's
    SystemQueryOptionsQueryTokenTests), before Graph's "silently ignores the $count query
    parameter" without ConsistencyLevel can apply; the sandbox read `$count=yes` as absent."""
    if value is None or value.lower() in ("true", "false"):
        return None
    return bad_request(
        f"Invalid value '{value}' for $count query option found. Valid values are 'true, false'.",
        code="BadRequest",
    )


def _option_name(name: str) -> str:
    return name.lower() if name.lower() in QUERY_OPTIONS else name


@dataclass
class GraphResponse:
    status: int = 200
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # a text/plain body instead of JSON (a `/$count`)


def count_response(req: GraphRequest, items: list) -> GraphResponse:
    """`/$count`: the number as text/plain with ConsistencyLevel: eventual; without it Graph
    answers 400 (concepts/aad-advanced-queries.md, "Error handling"; api/user-list.md,
    example 3)."""
    if not req.eventual():
        raise bad_request("$count is not currently supported.")
    return GraphResponse(200, text=str(len(items)))


Handler = Callable[[GraphRequest], GraphResponse]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # e.g. /users/{id}, used for stats
    pattern: re.Pattern[str]
    handler: Handler
    permissions: tuple[str, ...]  # any one of these application permissions suffices
    expands: bool = False  # the handler reads $expand (elsewhere the sandbox refuses it)


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._index: SegmentIndex[Route] | None = None

    def add(
        self,
        method: str,
        template: str,
        permissions: tuple[str, ...],
        *,
        expands: bool = False,
    ) -> Callable:
        regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template))
        pattern = re.compile(f"^{regex}$")

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, template, pattern, handler, permissions, expands))
            # Literal segments win over parameters: /users/delta before /users/{id}.
            self.routes.sort(key=lambda r: r.template.count("{"))
            self._index = None
            return handler

        return register

    def unresolved(self, path: str) -> str:
        """The segment of `path` no route reaches: the first one past the longest prefix that
        some route's template matches (a `{parameter}` matching any one segment)."""
        segments = path.strip("/").split("/")
        reached = max((_prefix(r.template, segments) for r in self.routes), default=0)
        return segments[min(reached, len(segments) - 1)]

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        """The route for this call; (None, {}) if no path matches, or a 405 route stub."""
        if self._index is None:
            self._index = SegmentIndex(self.routes, [r.template for r in self.routes])
        path_matched = False
        for route in self._index.candidates(path):
            found = route.pattern.match(path)
            if found:
                path_matched = True
                if route.method == method:
                    return route, found.groupdict()
        if path_matched:
            raise GraphError(405, "Request_BadRequest", f"Method {method} is not allowed here.")
        return None, {}


def _prefix(template: str, segments: list[str]) -> int:
    """How many of `segments`, from the first, the template's own segments match."""
    count = 0
    for wanted, segment in zip(template.strip("/").split("/"), segments, strict=False):
        regex = re.sub(r"\\{(\w+)\\}", "[^/]+", re.escape(wanted))
        if not re.fullmatch(regex, segment):
            break
        count += 1
    return count


# Permission families, as Graph names its application permissions.
USER_READ = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
USER_WRITE = ("User.ReadWrite.All", "Directory.ReadWrite.All")
GROUP_READ = (
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
GROUP_WRITE = ("Group.ReadWrite.All", "GroupMember.ReadWrite.All", "Directory.ReadWrite.All")
ORG_READ = ("Organization.Read.All", "Directory.Read.All", "Directory.ReadWrite.All")
APP_READ = (
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
APP_ASSIGN = ("AppRoleAssignment.ReadWrite.All",)

router = Router()
