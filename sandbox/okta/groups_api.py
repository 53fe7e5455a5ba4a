"""/api/v1/groups: list and search, get, create, delete, members (idempotent add and remove), and
the apps assigned to a group.

Only OKTA_GROUP members may be changed through the API: Everyone (BUILT_IN) holds every user
and an imported APP_GROUP changes with its source's import; both answer a membership change
with 403 E0000006, as Okta does even for a super admin."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from .errors import bad_json, forbidden, invalid_search, validation_failed
from .listing import analysed, limit_param, page, sorted_page
from .model import Group
from .pipeline import Call, Reply
from .query import Analysed
from .resources import app_json, group_json, group_profile, user_json

# What `filter` accepts on groups ("Filtering supports the following limited number of
# properties: id, type, lastUpdated, and lastMembershipUpdated").
FILTERABLE = frozenset({"id", "type", "lastUpdated", "lastMembershipUpdated"})
# What `search` accepts on groups (okta SDK 3.x GroupApi.list_groups, Okta's OpenAPI text):
# "Any group profile attribute, including imported app group profile attributes", "The
# top-level properties: id, created, lastMembershipUpdated, lastUpdated, and type", and "The
# source of groups with type of APP_GROUP, accessed as source.id"; "You can only use co with
# these select profile attributes: profile.name and profile.description". Anything else is
# 400 E0000031, as on users (the sandbox matched nothing, so `name eq "Sales"` for
# `profile.name` read as "no such group").
SEARCHABLE = frozenset(
    {"id", "created", "lastMembershipUpdated", "lastUpdated", "type", "source.id"}
)
CONTAINS = frozenset({"profile.name", "profile.description"})
GROUP_PROFILE = frozenset({"name", "description", "objectClass"})
Q_LIMIT = 300

_TOP_LEVEL = {
    "id": "id",
    "created": "created",
    "lastUpdated": "last_updated",
    "lastMembershipUpdated": "last_membership_updated",
}


def _attribute(group: Group, path: str) -> Any:
    if path == "type":
        return group.type
    if path == "source.id":
        return group.source_app_id
    if path.startswith("profile."):
        return group_profile(group).get(path[len("profile.") :])
    if path in _TOP_LEVEL:
        return getattr(group, _TOP_LEVEL[path])
    return None


def _checked_filter(text: str) -> Analysed:
    compiled = analysed(text, _attribute)
    for attribute, _ in compiled.clauses:
        if attribute not in FILTERABLE:
            raise invalid_search(f"filter does not support {attribute}")
    return compiled


def _checked_search(text: str) -> Analysed:
    compiled = analysed(text, _attribute)
    for attribute, operator in compiled.clauses:
        if not (attribute.startswith("profile.") or attribute in SEARCHABLE):
            raise invalid_search(f"{attribute} is not a searchable property")
        if operator == "co" and attribute not in CONTAINS:
            raise invalid_search(f"co is supported only on {', '.join(sorted(CONTAINS))}")
    return compiled


def _indexed(call: Call, group: Group) -> bool:
    """Whether `search` sees the group yet: "The search parameter results are sourced from an
    eventually consistent datasource and may not reflect the latest information" (okta SDK
    3.x GroupApi.list_groups). With the org's replication lag, a group made or changed less
    than that ago is not found yet, as users are not (users_api.py); `filter`, `q` and a GET
    by id see it at once."""
    lag_ms = call.org.behaviour.settings.replication_lag_ms
    if lag_ms <= 0:
        return True
    changed = dt.datetime.fromisoformat(group.last_updated.replace("Z", "+00:00"))
    return changed.timestamp() <= time.time() - lag_ms / 1000


def list_groups(call: Call) -> Reply:
    groups = list(call.org.groups.values())
    filtered = _checked_filter(call.query("filter")) if call.query("filter") else None
    searched = _checked_search(call.query("search")) if call.query("search") else None
    if searched is not None:  # search, where both are given
        groups = [g for g in groups if searched.predicate(g) and _indexed(call, g)]
    elif filtered is not None:
        groups = [g for g in groups if filtered.predicate(g)]
    q = (call.query("q") or "").strip().lower()
    if q:
        # "Paging and searching are currently mutually exclusive ... The default limit for a
        # query is 300 results": no next page, whatever matches beyond the limit.
        found = [g for g in groups if g.name.lower().startswith(q)]
        found = sorted(found, key=lambda g: g.id)[: limit_param(call, Q_LIMIT, Q_LIMIT)]
        return Reply(200, [group_json(g, call.base) for g in found])
    sort_by = call.query("sortBy")
    if searched is not None and sort_by:
        # GroupApi.list_groups: `sortBy` "for search queries only ... Groups with the same
        # value for the `sortBy` property are ordered by `id`" (the sandbox ignored it)
        chosen, headers = sorted_page(
            call, groups, "/api/v1/groups", lambda g: _attribute(g, sort_by), 10_000
        )
    else:
        chosen, headers = page(call, groups, "/api/v1/groups", default=10_000, maximum=10_000)
    return Reply(200, [group_json(g, call.base) for g in chosen], headers)


def get_group(call: Call) -> Reply:
    return Reply(200, group_json(call.org.find_group(call.param("group_id")), call.base))


def create_group(call: Call) -> Reply:
    profile = call.json().get("profile") or {}
    if not isinstance(profile, dict):
        raise bad_json()
    # "You can extend group profiles with custom properties, but you must first add the
    # properties to the group profile schema before you can reference them" (okta SDK
    # GroupProfile, Okta's OpenAPI text); an Okta group's own are name and description
    # (objectClass, OktaUserGroupProfile's third, is Okta's to set and read as such). The
    # sandbox's orgs extend no schema, so any other name is refused, as on users (strict5);
    # the sandbox dropped it. Okta's cause text is not published.
    for name in profile:
        if name not in GROUP_PROFILE:
            raise validation_failed(name, "The property is not defined in the group profile schema")
    description = profile.get("description")
    group = call.org.create_group(profile.get("name"), "" if description is None else description)
    return Reply(200, group_json(group, call.base))


def list_members(call: Call) -> Reply:
    org = call.org
    group = org.find_group(call.param("group_id"))
    users = [org.users[uid] for uid in group.members if uid in org.users]
    chosen, headers = page(call, users, f"/api/v1/groups/{group.id}/users", 1000, 1000)
    return Reply(200, [user_json(u, call.base) for u in chosen], headers)


def _group_with_members_okta_manages(call: Call) -> Group:
    group = call.org.find_group(call.param("group_id"))
    if not group.members_managed_by_okta:
        raise forbidden()
    return group


def delete_group(call: Call) -> Reply:
    """DELETE /api/v1/groups/{groupId}: "Removes a group with `OKTA_GROUP` type from your
    organization" (okta SDK GroupApi.delete_group); Everyone and imported groups: 403."""
    group = _group_with_members_okta_manages(call)
    call.org.delete_group(group)
    return Reply(204)


def add_member(call: Call) -> Reply:
    org = call.org
    group = _group_with_members_okta_manages(call)
    org.add_member(group, org.find_user(call.param("user_id")))
    return Reply(204)


def remove_member(call: Call) -> Reply:
    org = call.org
    group = _group_with_members_okta_manages(call)
    user = org.find_user(call.param("user_id"))
    org.remove_member(group, user.id)
    return Reply(204)


def list_apps(call: Call) -> Reply:
    """GET /api/v1/groups/{groupId}/apps: the apps assigned to the group."""
    org = call.org
    group = org.find_group(call.param("group_id"))
    apps = [app for app in org.apps.values() if group.id in app.groups]
    chosen, headers = page(call, apps, f"/api/v1/groups/{group.id}/apps", 20, 200)
    return Reply(200, [app_json(a, call.base) for a in chosen], headers)
