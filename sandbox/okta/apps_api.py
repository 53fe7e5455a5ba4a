"""/api/v1/apps: list and get apps; assign, read and unassign their users."""

from __future__ import annotations

from typing import Any

from .errors import bad_json, validation_failed
from .listing import matching, page
from .model import App
from .pipeline import Call, Reply
from .resources import app_json, app_user_json


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
    chosen, headers = page(call, assignments, path, 50, 500, key=lambda a: a.user_id)
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
    del app.assignments[call.param("user_id")]
    return Reply(204)
