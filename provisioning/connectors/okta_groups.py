"""What Okta's groups mean for provisioning, read once here so the engine decides on flags:

- Everyone (type BUILT_IN) holds every user; imported groups (type APP_GROUP, e.g. from
  Active Directory) change only with their source's import. Okta refuses API membership
  changes to both (403 E0000006), so their Resource says so: "builtin", or "imported" with
  "imported_from" (the source app's label).
- An app assigned to a group is held by its members (scope GROUP) and cannot be unassigned
  from one of them (403 E0000046): `groups_granting` tells which groups grant which apps.
- A user's groups come 200 a page, like every Okta list: `group_ids_of` reads them all.

The catalogue and access reads take each page as JSON (`json_page`): the SDK's pydantic models
of a page cost more CPU than its request, and the engine reads a few fields of them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from provisioning.connectors.base import Resource
from provisioning.connectors.okta_links import next_cursor

if TYPE_CHECKING:
    from okta.client import Client

    from provisioning.connectors.okta import OktaConnector

# List all groups (of a user): "limit <= 200, Default: 200", with an `after` cursor from the
# Link header (developer.okta.com/docs/api/openapi/okta-management/management/tags/
# userresources/other/listusergroups).
USER_GROUPS_PAGE = 200


def group_of(body: dict, app_labels: dict[str, str]) -> Resource:
    """A group as the engine reads it: "builtin" for Everyone, "imported" with the source
    app's label for an APP_GROUP (its `_links.source`); read as the SDK's Group model read
    it (tests/provisioning/test_okta_raw_reads.py)."""
    kind = text_of(body, "type")
    detail: dict = {"builtin": kind == "BUILT_IN"}
    if kind == "APP_GROUP":
        href = text_of(field_of(field_of(body, "_links"), "source"), "href")
        source = href.rstrip("/").rsplit("/", 1)[-1]
        detail |= {"imported": True, "imported_from": app_labels.get(source, "its source app")}
    return Resource(field_of(body, "id"), text_of(field_of(body, "profile"), "name"), detail)


def field_of(body, key: str):
    """`body[key]` when `body` is an object, else None."""
    return body.get(key) if isinstance(body, dict) else None


def text_of(body, key: str) -> str:
    """`body[key]` when it is a string, else ""."""
    value = field_of(body, key)
    return value if isinstance(value, str) else ""


async def json_page(okta: Client, serialized: tuple) -> tuple[list | None, object, object]:
    """One list page: the request the SDK's `_<call>_serialize` built, sent through its request
    executor as its call sends it, answered as its calls answer, `(items, response, error)`,
    with the page's items as JSON (a list; [] for an empty answer) instead of its models."""
    method, url, headers, body, post_params = serialized
    executor = okta.get_request_executor()
    request, error = await executor.create_request(
        method, url, body, headers, post_params or None, keep_empty_params=False
    )
    if error:
        return None, None, error
    response, response_body, error = await executor.execute(request)
    if error:
        return None, response, error
    items = json.loads(response_body) if response_body else []
    return items if isinstance(items, list) else [], response, None


async def every_item(connector: OktaConnector, page_request) -> list:
    """The JSON items of every page: `page_request(after)` is a page's serialized request,
    the next page's cursor taken from its Link header (`rel="next"`)."""
    found, after = [], None
    while True:
        okta = connector._okta()
        page, response = await connector._call(json_page(okta, page_request(okta, after)))
        found += page or []
        after = next_cursor(response)
        if not after:
            return found


async def groups_granting(
    connector: OktaConnector, app_ids: list[str]
) -> dict[str, frozenset[str]]:
    """For each app, the ids of the groups assigned to it (every page, as JSON)."""
    granting: dict[str, frozenset[str]] = {}
    for app_id in app_ids:
        assignments = await every_item(
            connector, lambda okta, after, app_id=app_id: _app_groups(okta, app_id, after)
        )
        granting[app_id] = frozenset(field_of(assignment, "id") for assignment in assignments)
    return granting


def _app_groups(okta: Client, app_id: str, after: str | None) -> tuple:
    """The request of `okta.list_application_group_assignments(app_id, after=after,
    limit=200)`, serialized by the SDK."""
    return okta._list_application_group_assignments_serialize(
        app_id=app_id,
        q=None,
        after=after,
        limit=200,
        expand=None,
        _request_auth=None,
        _content_type=None,
        _headers=None,
        _host_index=0,
    )


async def group_ids_of(connector: OktaConnector, user_id: str) -> tuple[frozenset, frozenset]:
    """The ids of every group the user is in, every page (a leaver in more than one page of
    groups must be planned, and read back, whole), and of those the built-in ones (Everyone):
    each group listed comes with its `type` (List all groups of a user answers Group objects,
    developer.okta.com/docs/api/openapi/okta-management/management/tags/userresources/other/
    listusergroups)."""
    groups = await every_item(connector, lambda okta, after: _user_groups(okta, user_id, after))
    built_in = frozenset(field_of(g, "id") for g in groups if text_of(g, "type") == "BUILT_IN")
    return frozenset(field_of(g, "id") for g in groups), built_in


def _user_groups(okta: Client, user_id: str, after: str | None) -> tuple:
    """GET /api/v1/users/{id}/groups, serialized as the SDK serializes its calls. okta
    3.4.6's `list_user_groups` sends neither `after` nor `limit` (its OpenAPI text predates
    them), so this is that call, with both."""
    query = [("limit", USER_GROUPS_PAGE), *([("after", after)] if after else [])]
    return okta.param_serialize(
        method="GET",
        resource_path="/api/v1/users/{id}/groups",
        path_params={"id": user_id},
        query_params=query,
        header_params={"Accept": "application/json"},
        auth_settings=["apiToken", "oauth2"],
    )
