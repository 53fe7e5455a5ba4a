"""What Okta's groups mean for provisioning, read once here so the engine decides on flags:

- Everyone (type BUILT_IN) holds every user; imported groups (type APP_GROUP, e.g. from
  Active Directory) change only with their source's import. Okta refuses API membership
  changes to both (403 E0000006), so their Resource says so: "builtin", or "imported" with
  "imported_from" (the source app's label).
- An app assigned to a group is held by its members (scope GROUP) and cannot be unassigned
  from one of them (403 E0000046): `groups_granting` tells which groups grant which apps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from okta.pagination import PaginationHelper

from provisioning.connectors.base import Resource

if TYPE_CHECKING:
    from provisioning.connectors.okta import OktaConnector


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
