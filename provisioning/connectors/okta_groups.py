"""What Okta's groups mean for provisioning, read once here so the engine decides on flags:

- Everyone (type BUILT_IN) holds every user; imported groups (type APP_GROUP, e.g. from
  Active Directory) change only with their source's import. Okta refuses API membership
  changes to both (403 E0000006), so their Resource says so: "builtin", or "imported" with
  "imported_from" (the source app's label).
- An app assigned to a group is held by its members (scope GROUP) and cannot be unassigned
  from one of them (403 E0000046): `groups_granting` tells which groups grant which apps.
- A user's groups come 200 a page, like every Okta list: `group_ids_of` reads them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from okta.models import Group
from okta.pagination import PaginationHelper
from okta.rest import RESTResponse

from provisioning.connectors.base import Resource

if TYPE_CHECKING:
    from okta.client import Client

    from provisioning.connectors.okta import OktaConnector

# List all groups (of a user): "limit <= 200, Default: 200", with an `after` cursor from the
# Link header (developer.okta.com/docs/api/openapi/okta-management/management/tags/
# userresources/other/listusergroups).
USER_GROUPS_PAGE = 200


def group_resource(group, app_labels: dict[str, str]) -> Resource:
    kind = str(getattr(group.type, "value", group.type) or "")
    detail: dict = {"builtin": kind == "BUILT_IN"}
    if kind == "APP_GROUP":
        source = _source_app_id(group)
        detail |= {"imported": True, "imported_from": app_labels.get(source, "its source app")}
    profile = getattr(group.profile, "actual_instance", group.profile)
    return Resource(group.id, getattr(profile, "name", "") or "", detail)


def _source_app_id(group) -> str:
    source = getattr(getattr(group, "links", None), "source", None)
    href = getattr(source, "href", "") or ""
    return href.rstrip("/").rsplit("/", 1)[-1]


async def groups_granting(
    connector: OktaConnector, app_ids: list[str]
) -> dict[str, frozenset[str]]:
    """For each app, the ids of the groups assigned to it (every page)."""
    okta = connector._okta()
    granting: dict[str, frozenset[str]] = {}
    for app_id in app_ids:
        found: set[str] = set()
        after = None
        while True:
            page, response = await connector._call(
                okta.list_application_group_assignments(app_id, after=after, limit=200)
            )
            found |= {assignment.id for assignment in page or []}
            after = PaginationHelper.extract_next_cursor(response.headers) if response else None
            if not after:
                break
        granting[app_id] = frozenset(found)
    return granting


async def group_ids_of(connector: OktaConnector, user_id: str) -> frozenset[str]:
    """The ids of every group the user is in, every page: a leaver in more than one page of
    groups must be planned, and read back, whole."""
    okta = connector._okta()
    found: set[str] = set()
    after = None
    while True:
        page, response = await connector._call(_user_groups_page(okta, user_id, after))
        found |= {group.id for group in page or []}
        after = PaginationHelper.extract_next_cursor(response.headers) if response else None
        if not after:
            return frozenset(found)


async def _user_groups_page(okta: Client, user_id: str, after: str | None):
    """One page of GET /api/v1/users/{id}/groups, answered as the SDK answers its calls
    ((groups, response, error)). okta 3.4.6's `list_user_groups` sends neither `after` nor
    `limit` (its OpenAPI text predates them), so this is that call, with both."""
    query = [("limit", USER_GROUPS_PAGE), *([("after", after)] if after else [])]
    method, url, headers, body, _ = okta.param_serialize(
        method="GET",
        resource_path="/api/v1/users/{id}/groups",
        path_params={"id": user_id},
        query_params=query,
        header_params={"Accept": "application/json"},
        auth_settings=["apiToken", "oauth2"],
    )
    executor = okta.get_request_executor()
    request, error = await executor.create_request(method, url, body, headers, None)
    if error:
        return None, None, error
    response, response_body, error = await executor.execute(request, Group)
    if error:
        return None, response, error
    data = RESTResponse(response)
    data.read(response_body.encode("utf-8"))
    answer = okta.response_deserialize(
        response_data=data, response_types_map={"200": "List[Group]"}
    )
    return answer.data, answer, None
