"""The sandbox's HTTP server: what a client's headers may not change, and its route lookup."""

from __future__ import annotations

import re

from starlette.routing import Match, Mount

from sandbox.entra import routes as _graph_routes  # noqa: F401 - registers Graph's routes
from sandbox.entra.router import router as graph_router
from sandbox.routing import SegmentIndex
from sandbox.server import build_app
from sandbox.state import SandboxState
from tests.sandbox.entra_support import EntraDir


def test_a_clients_forwarded_headers_do_not_change_the_links_graph_writes(entra: EntraDir) -> None:
    # Graph's @odata.nextLink is its own URL (concepts/paging.md: "the URL to the next page");
    # a client's X-Forwarded-Proto is not Graph's business. uvicorn honoured it from
    # 127.0.0.1, where every client of the sandbox is, and the link went to http://.
    with entra.graph() as graph:
        response = graph.get("/groups", params={"$top": "1"}, headers={"X-Forwarded-Proto": "http"})
    assert response.status_code == 200, response.text
    assert response.json()["@odata.nextLink"].startswith(f"{entra.server.url}/v1.0/groups?")


def _paths(template: str) -> list[str]:
    """Paths a template matches, and near misses (a segment more, one less, a slash)."""
    filled = [re.sub(r"{[^}]+}", value, template) for value in ("x", "okta", "v1.0", "a/b")]
    return [p for f in filled for p in (f, f + "/", f + "/x", f.rsplit("/", 1)[0])]


def _first(routes: list, scope: dict) -> tuple[object, Match]:
    """The route Starlette's own loop picks for `scope` (a full match, else a partial one)."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route, match
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial, Match.PARTIAL


def test_the_route_index_picks_the_route_the_full_scan_picks() -> None:
    app = build_app(SandboxState(None), "token").app
    routers = [app.router, *(r.app for r in app.router.routes if isinstance(r, Mount))]
    for router in routers:
        templates = [getattr(r, "path", "") for r in router.routes]
        for path in {p for t in templates for p in _paths(t)} | {"/", "/v1.0/users/x"}:
            for method in ("GET", "POST", "PATCH", "OPTIONS"):
                scope = {"type": "http", "path": path, "method": method, "root_path": ""}
                picked = _first(router._candidates(path), scope)
                assert picked == _first(router.routes, scope), (path, method)


def test_graphs_route_index_picks_the_route_the_full_scan_picks() -> None:
    index = SegmentIndex(graph_router.routes, [r.template for r in graph_router.routes])
    for path in {p for r in graph_router.routes for p in _paths(r.template)}:
        matching = [r for r in graph_router.routes if r.pattern.match(path)]
        assert [r for r in index.candidates(path) if r.pattern.match(path)] == matching, path
