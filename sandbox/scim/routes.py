"""The SCIM routes of every app, one app per path prefix: /scim/{slug}/v2/...

A known path asked with a method it does not take is 405 with `Allow` (RFC 9110 §15.5.6);
HEAD is answered as GET. A PATCH on /Groups of a
flavour without group PATCH is 501, the RFC 7644 §3.12 status for "service provider does not
support the request operation, e.g., PATCH"; so are /Bulk and /Me, which no app here
serves (§3.7, §3.11); an unknown path is 404. All in the SCIM error
shape, behind auth and the app's behaviour.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from sandbox.routing import IndexedRouter
from sandbox.scim import api, discovery, oauth, patch
from sandbox.scim.errors import ScimError
from sandbox.scim.pipeline import Call, Endpoint, Handler, Reply, endpoint

API: list[tuple[str, str, Handler]] = [
    ("GET", "/ServiceProviderConfig", discovery.service_provider_config),
    ("GET", "/Schemas", discovery.schemas),
    ("GET", "/Schemas/{id}", discovery.schema),
    ("GET", "/ResourceTypes", discovery.resource_types),
    ("GET", "/ResourceTypes/{id}", discovery.resource_type),
    ("POST", "/.search", api.search_everything),
    ("POST", "/Bulk", api.bulk),
    *[(method, "/Me", api.me) for method in ("GET", "POST", "PUT", "PATCH", "DELETE")],
    *[
        route
        for name, path in (("User", "/Users"), ("Group", "/Groups"))
        for route in (
            ("GET", path, api.lister(name)),
            ("POST", path, api.creator(name)),
            ("POST", f"{path}/.search", api.searcher(name)),
            ("GET", f"{path}/{{id}}", api.getter(name)),
            ("PUT", f"{path}/{{id}}", api.replacer(name)),
            ("PATCH", f"{path}/{{id}}", patch.patcher(name)),
            ("DELETE", f"{path}/{{id}}", api.deleter(name)),
        )
    ],
]


def _dispatch(by_method: dict[str, Endpoint]) -> Endpoint:
    """HEAD is answered as GET without the body (RFC 9110 §9.3.2; uvicorn drops the body)."""

    async def run(request: Request) -> Response:
        return await by_method["GET" if request.method == "HEAD" else request.method](request)

    return run


def _no_such_route(known: list[Route]) -> Handler:
    def run(call: Call) -> Reply:
        path = "/" + call.param("rest")
        allowed = sorted(
            method
            for route in known
            if route.path_regex.match(path)
            for method in route.methods or ()
            if method != "HEAD"
        )
        if allowed:
            raise ScimError(
                405,
                f"{call.request.method} is not allowed on {path}",
                headers={"Allow": ", ".join(allowed)},
            )
        raise ScimError(404, f"no endpoint {path}")

    return run


def routes(state: Any) -> list[BaseRoute]:
    by_path: dict[str, dict[str, Endpoint]] = {}
    for method, path, handler in API:
        by_path.setdefault(path, {})[method] = endpoint(state, path, handler)
    api_routes = [
        Route(path, _dispatch(by_method), methods=list(by_method))
        for path, by_method in by_path.items()
    ]
    fallback = Route(
        "/{rest:path}",
        endpoint(state, "(no such route)", _no_such_route(api_routes)),
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    )
    return [
        *oauth.routes(state),
        Mount("/scim/{slug}/v2", app=IndexedRouter([*api_routes, fallback])),
    ]
