"""The Okta Management API routes, one org per path prefix: /okta/{org_id}/api/v1/...

The okta SDK (3.4.6) builds request URLs as orgUrl + path, so an org URL with a path
(https://127.0.0.1:PORT/okta/fabrikam) works; it pages by reading the `after` cursor out of
the `Link: rel="next"` URL, so the absolute links served here work for it and for raw clients.
A Host-header scheme was not an option: names like fabrikam.localhost do not resolve here.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from sandbox.routing import IndexedRouter

from . import admins_api, apps_api, groups_api, org_api, rules_api, users_api
from .errors import OktaError
from .pipeline import Call, Endpoint, Handler, Reply, endpoint

# (method, template, family, handler); the template is what stats count calls under.
API: list[tuple[str, str, str, Handler]] = [
    ("GET", "/api/v1/org", "org", org_api.get_org),
    ("POST", "/api/v1/users", "users", users_api.create_user),
    ("GET", "/api/v1/users", "users", users_api.list_users),
    ("GET", "/api/v1/users/me", "users", admins_api.me),  # before {user_id}
    ("GET", "/api/v1/users/{user_id}", "users", users_api.get_user),
    ("POST", "/api/v1/users/{user_id}", "users", users_api.update_user),
    ("PUT", "/api/v1/users/{user_id}", "users", users_api.update_user),
    ("DELETE", "/api/v1/users/{user_id}", "users", users_api.delete_user),
    ("DELETE", "/api/v1/users/{user_id}/sessions", "users", users_api.clear_sessions),
    ("GET", "/api/v1/users/{user_id}/groups", "users", users_api.user_groups),
    ("GET", "/api/v1/users/{user_id}/appLinks", "users", users_api.app_links),
    ("GET", "/api/v1/users/{user_id}/roles", "users", admins_api.roles),
    *[
        ("POST", f"/api/v1/users/{{user_id}}/lifecycle/{operation}", "users", handler)
        for operation, handler in users_api.LIFECYCLE.items()
    ],
    # Rules before groups: /api/v1/groups/rules would otherwise read as a group id.
    ("GET", "/api/v1/groups/rules", "groups", rules_api.list_rules),
    ("POST", "/api/v1/groups/rules", "groups", rules_api.create_rule),
    ("GET", "/api/v1/groups/rules/{rule_id}", "groups", rules_api.get_rule),
    ("PUT", "/api/v1/groups/rules/{rule_id}", "groups", rules_api.replace_rule),
    ("DELETE", "/api/v1/groups/rules/{rule_id}", "groups", rules_api.delete_rule),
    (
        "POST",
        "/api/v1/groups/rules/{rule_id}/lifecycle/activate",
        "groups",
        rules_api.activate_rule,
    ),
    (
        "POST",
        "/api/v1/groups/rules/{rule_id}/lifecycle/deactivate",
        "groups",
        rules_api.deactivate_rule,
    ),
    ("GET", "/api/v1/groups", "groups", groups_api.list_groups),
    ("POST", "/api/v1/groups", "groups", groups_api.create_group),
    ("GET", "/api/v1/groups/{group_id}", "groups", groups_api.get_group),
    ("DELETE", "/api/v1/groups/{group_id}", "groups", groups_api.delete_group),
    ("GET", "/api/v1/groups/{group_id}/users", "groups", groups_api.list_members),
    ("PUT", "/api/v1/groups/{group_id}/users/{user_id}", "groups", groups_api.add_member),
    ("DELETE", "/api/v1/groups/{group_id}/users/{user_id}", "groups", groups_api.remove_member),
    ("GET", "/api/v1/groups/{group_id}/apps", "groups", groups_api.list_apps),
    ("GET", "/api/v1/apps", "apps", apps_api.list_apps),
    ("GET", "/api/v1/apps/{app_id}", "apps", apps_api.get_app),
    ("GET", "/api/v1/apps/{app_id}/users", "apps", apps_api.list_app_users),
    ("POST", "/api/v1/apps/{app_id}/users", "apps", apps_api.assign_user),
    ("GET", "/api/v1/apps/{app_id}/users/{user_id}", "apps", apps_api.get_app_user),
    ("DELETE", "/api/v1/apps/{app_id}/users/{user_id}", "apps", apps_api.unassign_user),
    ("GET", "/api/v1/apps/{app_id}/groups", "apps", apps_api.list_app_groups),
    ("GET", "/api/v1/apps/{app_id}/groups/{group_id}", "apps", apps_api.get_app_group),
    ("PUT", "/api/v1/apps/{app_id}/groups/{group_id}", "apps", apps_api.assign_group),
    ("DELETE", "/api/v1/apps/{app_id}/groups/{group_id}", "apps", apps_api.unassign_group),
]


def _stats_template(path: str) -> str:
    """The route as Okta's reference names it: /api/v1/users/{id}, /api/v1/apps/{appId}/..."""
    user = "{id}" if path.startswith("/api/v1/users") else "{userId}"
    return (
        path.replace("{user_id}", user)
        .replace("{group_id}", "{groupId}")
        .replace("{app_id}", "{appId}")
        .replace("{rule_id}", "{ruleId}")
    )


def _dispatch(by_method: dict[str, Endpoint]) -> Endpoint:
    async def run(request: Request) -> Response:
        return await by_method[request.method](request)

    return run


def _api_routes(state: Any) -> list[Route]:
    by_path: dict[str, dict[str, Endpoint]] = {}
    for method, path, family, handler in API:
        by_path.setdefault(path, {})[method] = endpoint(
            state, family, _stats_template(path), handler
        )
    return [
        Route(path, _dispatch(by_method), methods=list(by_method))
        for path, by_method in by_path.items()
    ]


def _no_such_route(known: list[Route]) -> Handler:
    """Okta's answers for a path it does not serve: 405 E0000022 for a known path asked with
    another method, else 404 E0000007, both in Okta's shape and behind auth and rate limits."""

    def run(call: Call) -> Reply:
        path = "/" + call.param("rest")
        if any(route.path_regex.match(path) for route in known):
            raise OktaError(
                405, "E0000022", "The endpoint does not support the provided HTTP method"
            )
        raise OktaError(404, "E0000007", f"Not found: Resource not found: {path}")

    return run


def routes(state: Any) -> list[BaseRoute]:
    """The Okta API for every org in `state.okta`, looked up per request."""
    api = _api_routes(state)
    fallback = Route(
        "/{rest:path}",
        endpoint(state, "other", "(no such route)", _no_such_route(api)),
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    )
    return [Mount("/okta/{org_id}", app=IndexedRouter([*api, fallback]))]
