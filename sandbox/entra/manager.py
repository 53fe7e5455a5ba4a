"""Graph's manager relationship: users/{id}/manager (GET, PUT and DELETE of $ref) and
users/{id}/directReports.

A manager is a reference, not a property: it is set after the user exists
(user-post-manager.md: PUT with {"@odata.id": ".../users/{managerId}"}, 204), read back as the
manager's directoryObject, and a user with none answers 404 (user-list-manager.md).
"""

from __future__ import annotations

import re

from sandbox.entra.errors import bad_request, not_found
from sandbox.entra.expand import EXPANDED_MAX
from sandbox.entra.model import User
from sandbox.entra.odata import check_select, paged, select
from sandbox.entra.onprem import refuse_synced_user_update
from sandbox.entra.router import USER_READ, USER_WRITE, GraphRequest, GraphResponse, router
from sandbox.entra.users import AS_DIRECTORY_OBJECT, DEFAULT_SELECT, EXPANSIONS, find_user

# The id at the end of an @odata.id: .../directoryObjects/{id}, .../users/{id} or users('{id}').
_REF = re.compile(r"/(?:directoryObjects|users)(?:/|\(')(?P<id>[^/'()]+)'?\)?/?$")


def manager_of(req: GraphRequest, user: User) -> User | None:
    """The user's manager while it is a live user (a deleted manager no longer shows)."""
    if user.manager_id is None:
        return None
    return req.tenant.live_user(user.manager_id)


def _object_view(user: User, query: dict[str, str]) -> dict:
    obj = {**user.props, "@odata.type": "#microsoft.graph.user"}
    return select(obj, query, DEFAULT_SELECT, AS_DIRECTORY_OBJECT)


def reports_of(req: GraphRequest, manager: User) -> list[User]:
    return [u for u in req.tenant.live_users() if u.manager_id == manager.id]


def expanded_manager(req: GraphRequest, user: User) -> dict | None:
    manager = manager_of(req, user)
    return None if manager is None else _object_view(manager, {})


def expanded_reports(req: GraphRequest, user: User) -> list[dict]:
    return [_object_view(u, {}) for u in reports_of(req, user)[:EXPANDED_MAX]]


EXPANSIONS["manager"] = expanded_manager
EXPANSIONS["directReports"] = expanded_reports


@router.add("GET", "/users/{id}/manager", USER_READ)
def get_manager(req: GraphRequest) -> GraphResponse:
    manager = manager_of(req, find_user(req, req.params["id"]))
    if manager is None:
        raise not_found("manager")
    context = f"{req.base_url}/$metadata#directoryObjects/$entity"
    return GraphResponse(200, {"@odata.context": context, **_object_view(manager, req.query)})


@router.add("PUT", "/users/{id}/manager/$ref", USER_WRITE)
def set_manager(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    ref = req.json().get("@odata.id")
    found = _REF.search(ref) if isinstance(ref, str) else None
    if found is None:
        raise bad_request("Invalid object identifier '{}'.".format(ref or ""))
    manager = req.tenant.live_user(found["id"])
    if manager is None:
        raise not_found(found["id"])
    if manager.id == user.id:
        raise bad_request("A user cannot be their own manager.")
    refuse_synced_user_update(user, {"manager": manager.id})  # AD masters it
    user.manager_id = manager.id
    req.tenant.touch(user, "manager")
    return GraphResponse(204)


@router.add("DELETE", "/users/{id}/manager/$ref", USER_WRITE)
def remove_manager(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    if manager_of(req, user) is None:
        raise not_found("manager")
    refuse_synced_user_update(user, {"manager": None})  # AD masters it
    user.manager_id = None
    req.tenant.touch(user, "manager")
    return GraphResponse(204)


@router.add("GET", "/users/{id}/directReports", USER_READ)
def direct_reports(req: GraphRequest) -> GraphResponse:
    manager = find_user(req, req.params["id"])
    check_select(req.query, AS_DIRECTORY_OBJECT)
    reports = reports_of(req, manager)
    url = f"{req.base_url}/users/{manager.id}/directReports"
    page = paged(reports, req.query, url, f"{req.base_url}/$metadata#directoryObjects")
    page["value"] = [_object_view(u, req.query) for u in page["value"]]
    return GraphResponse(200, page)
