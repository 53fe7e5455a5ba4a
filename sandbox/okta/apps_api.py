"""/api/v1/apps: list and get apps; assign, read and unassign their users and groups."""

from __future__ import annotations

from typing import Any

from . import group_apps
from .errors import bad_json, not_found, validation_failed
from .listing import matching, page
from .model import App
from .pipeline import Call, Reply
from .resources import app_group_json, app_json, app_user_json


def _attribute(app: App, path: str) -> Any:
    return {"status": app.status, "name": app.name, "id": app.id}.get(path)


def list_apps(call: Call) -> Reply:
    apps = list(call.org.apps.values())
    expression = call.query("filter")
    if expression:
        apps = matching(apps, expression, _attribute)
    q = (call.query("q") or "").strip().lower()
    if q:
        apps = [a for a in apps if a.label.lower().startswith(q) or a.name.lower().startswith(q)]
    chosen, headers = page(call, apps, "/api/v1/apps", default=20, maximum=200)
    return Reply(200, [app_json(a, call.base) for a in chosen], headers)


def get_app(call: Call) -> Reply:
    return Reply(200, app_json(call.org.find_app(call.param("app_id")), call.base))


def list_app_users(call: Call) -> Reply:
    app = call.org.find_app(call.param("app_id"))
    path = f"/api/v1/apps/{app.id}/users"
    assignments = list(app.assignments.values())
    # limit 1..500 (ApplicationUsersApi.list_application_users: `Field(le=500, ge=1)`)
    chosen, headers = page(call, assignments, path, 50, 500, key=lambda a: a.user_id, minimum=1)
    return Reply(200, [app_user_json(app, a, call.base) for a in chosen], headers)


def assign_user(call: Call) -> Reply:
    org, body = call.org, call.json()
    app = org.find_app(call.param("app_id"))
    user_id = body.get("id")
    if not isinstance(user_id, str) or not user_id:
        raise validation_failed("id", "The field cannot be left blank")
    user = org.find_user(user_id)
    scope = body.get("scope") or "USER"
    if scope not in ("USER", "GROUP"):
        raise validation_failed("scope", "Does not match required pattern")
    credentials = body.get("credentials") or {}
    if not isinstance(credentials, dict):
        raise bad_json()
    user_name = credentials.get("userName")
    if user_name is not None and not isinstance(user_name, str):
        raise validation_failed("credentials.userName", "Does not match required pattern")
    assignment = org.assign(app, user, scope, user_name)
    if isinstance(body.get("profile"), dict):
        assignment.profile = body["profile"]
    return Reply(200, app_user_json(app, assignment, call.base))


def get_app_user(call: Call) -> Reply:
    app = call.org.find_app(call.param("app_id"))
    assignment = call.org.find_assignment(app, call.param("user_id"))
    return Reply(200, app_user_json(app, assignment, call.base))


def unassign_user(call: Call) -> Reply:
    app = call.org.find_app(call.param("app_id"))
    call.org.find_assignment(app, call.param("user_id"))
    group_apps.refuse_unassign_if_granted(call.org, app, call.param("user_id"))
    del app.assignments[call.param("user_id")]
    return Reply(204)


def list_app_groups(call: Call) -> Reply:
    app = call.org.find_app(call.param("app_id"))
    ids = [gid for gid in app.groups if gid in call.org.groups]
    # limit 20..200 (ApplicationGroupsApi.list_application_group_assignments: `Field(le=200,
    # ge=20)`)
    path = f"/api/v1/apps/{app.id}/groups"
    chosen, headers = page(call, ids, path, 20, 200, key=str, minimum=20)
    body = [app_group_json(app, gid, app.groups[gid], call.base) for gid in chosen]
    return Reply(200, body, headers)


def assign_group(call: Call) -> Reply:
    org = call.org
    app = org.find_app(call.param("app_id"))
    group = org.find_group(call.param("group_id"))
    if call.raw_body.strip():
        call.json()  # a priority or profile may come; it must be JSON
    assigned = group_apps.assign_group(org, app, group)
    return Reply(200, app_group_json(app, group.id, assigned, call.base))


def get_app_group(call: Call) -> Reply:
    app = call.org.find_app(call.param("app_id"))
    group_id = call.param("group_id")
    if group_id not in app.groups:
        raise not_found(group_id, "ApplicationGroupAssignment")
    return Reply(200, app_group_json(app, group_id, app.groups[group_id], call.base))


def unassign_group(call: Call) -> Reply:
    org = call.org
    app = org.find_app(call.param("app_id"))
    group_apps.unassign_group(org, app, org.find_group(call.param("group_id")))
    return Reply(204)
