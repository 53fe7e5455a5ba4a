"""/api/v1/groups: list and search, get, create, members (idempotent add and remove)."""

from __future__ import annotations

from typing import Any

from .errors import bad_json
from .listing import matching, page
from .model import Group
from .pipeline import Call, Reply
from .resources import group_json, user_json

_TOP_LEVEL = {
    "id": "id",
    "created": "created",
    "lastUpdated": "last_updated",
    "lastMembershipUpdated": "last_membership_updated",
}


def _attribute(group: Group, path: str) -> Any:
    if path == "type":
        return "OKTA_GROUP"
    if path == "profile.name":
        return group.name
    if path == "profile.description":
        return group.description
    if path in _TOP_LEVEL:
        return getattr(group, _TOP_LEVEL[path])
    return None


def list_groups(call: Call) -> Reply:
    groups = list(call.org.groups.values())
    expression = call.query("search") or call.query("filter")
    if expression:
        groups = matching(groups, expression, _attribute)
    q = (call.query("q") or "").strip().lower()
    if q:
        groups = [g for g in groups if g.name.lower().startswith(q)]
    chosen, headers = page(call, groups, "/api/v1/groups", default=10_000, maximum=10_000)
    return Reply(200, [group_json(g, call.base) for g in chosen], headers)


def get_group(call: Call) -> Reply:
    return Reply(200, group_json(call.org.find_group(call.param("group_id")), call.base))


def create_group(call: Call) -> Reply:
    profile = call.json().get("profile") or {}
    if not isinstance(profile, dict):
        raise bad_json()
    description = profile.get("description") or ""
    group = call.org.create_group(profile.get("name"), str(description))
    return Reply(200, group_json(group, call.base))


def list_members(call: Call) -> Reply:
    org = call.org
    group = org.find_group(call.param("group_id"))
    users = [org.users[uid] for uid in group.members if uid in org.users]
    chosen, headers = page(call, users, f"/api/v1/groups/{group.id}/users", 1000, 1000)
    return Reply(200, [user_json(u, call.base) for u in chosen], headers)


def add_member(call: Call) -> Reply:
    org = call.org
    group = org.find_group(call.param("group_id"))
    org.add_member(group, org.find_user(call.param("user_id")))
    return Reply(204)


def remove_member(call: Call) -> Reply:
    org = call.org
    group = org.find_group(call.param("group_id"))
    user = org.find_user(call.param("user_id"))
    org.remove_member(group, user.id)
    return Reply(204)
