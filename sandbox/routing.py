"""Route lookup by a path's literal segments, for the sandbox's Starlette routers and Graph's
own router.

Both tried every route's regular expression in turn, about 30 at the top and 86 in Graph's,
for every request. A route can only match a path that has its literal segments (those before
its first parameter) and, unless a parameter may hold a slash (`{rest:path}`, a mount), as
many segments as its template. `SegmentIndex` gives the routes that pass that test, in their
own order, so the first match, the 405 for a path known under another method and the 404 stay
as they were.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Generic, TypeVar

from starlette._utils import get_route_path
from starlette.routing import Match, Mount, Route, Router
from starlette.types import Receive, Scope, Send

R = TypeVar("R")

# Starlette's convertors that never match a slash; any other (`path`, or one registered
# elsewhere) may, and its route matches paths of any number of segments.
SEGMENT_CONVERTORS = frozenset({"", "str", "int", "float", "uuid"})
PARAMETER = re.compile(r"{\w+(?::(\w*))?}")


def template_key(template: str) -> tuple[int | None, tuple[str, ...]]:
    """(segments, literal segments) of a route template: segments is None when a parameter
    may span several; the literal segments stop before the one the first parameter is in."""
    head, brace, _ = template.partition("{")
    literal = head.split("/")
    if brace:
        literal = literal[:-1]
    convertors = PARAMETER.findall(template)
    fixed = all(c in SEGMENT_CONVERTORS for c in convertors)
    return (len(template.split("/")) if fixed else None), tuple(literal)


class SegmentIndex(Generic[R]):
    """The routes (`templates[i]` is route i's template) that could match a path."""

    def __init__(self, routes: Sequence[R], templates: Sequence[str]) -> None:
        self.routes = list(routes)
        self.keys: dict[tuple[int | None, tuple[str, ...]], list[int]] = {}
        for position, template in enumerate(templates):
            self.keys.setdefault(template_key(template), []).append(position)
        # Every leading part of a route's literal segments: past the first a path's segments
        # are not, no route can match.
        self.prefixes = {literal[:n] for _, literal in self.keys for n in range(len(literal) + 1)}

    def candidates(self, path: str) -> list[R]:
        segments = path.split("/")
        count = len(segments)
        keys = self.keys
        positions: list[int] = []
        for depth in range(count + 1):
            prefix = tuple(segments[:depth])
            if prefix not in self.prefixes:
                break
            positions += keys.get((count, prefix), ())
            positions += keys.get((None, prefix), ())
        positions.sort()
        return [self.routes[p] for p in positions]


def _template(route: object) -> str:
    if isinstance(route, Mount):
        return route.path + "/{path:path}"  # as Mount compiles it
    if isinstance(route, Route):
        return route.path
    return "{any:path}"  # another kind of route: always tried


class IndexedRouter(Router):
    """Starlette's Router, trying for an HTTP request only the routes its path could match.
    When none matches, Starlette's own loop runs (again finding none) and answers: its
    trailing-slash redirect or its 404, as before."""

    _index: SegmentIndex | None = None
    _indexed: tuple[list, int] = ([], 0)  # the routes list indexed and its length then

    def _candidates(self, path: str) -> list:
        routes, length = self._indexed
        if self._index is None or routes is not self.routes or length != len(self.routes):
            self._index = SegmentIndex(self.routes, [_template(r) for r in self.routes])
            self._indexed = (self.routes, len(self.routes))
        return self._index.candidates(path)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().app(scope, receive, send)
            return
        scope.setdefault("router", self)
        partial = partial_scope = None
        for route in self._candidates(get_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial, partial_scope = route, child_scope
        if partial is not None:
            scope["route"] = partial
            scope.update(partial_scope)
            await partial.handle(scope, receive, send)
            return
        await super().app(scope, receive, send)
