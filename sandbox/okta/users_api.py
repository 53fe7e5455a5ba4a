"""/api/v1/users: create, read, list and search, update, lifecycle, delete, sessions."""

from __future__ import annotations

from typing import Any

from . import lifecycle
from .errors import bad_json, not_found, validation_failed
from .listing import matching, page
from .model import User, now_iso
from .org import check_password
from .pipeline import Call, Handler, Reply
from .resources import USER_TYPE_ID, app_link_json, group_json, user_json

# Searchable top-level attributes: API name -> User attribute.
_TOP_LEVEL = {
    "id": "id",
    "status": "status",
    "created": "created",
    "activated": "activated",
    "statusChanged": "status_changed",
    "lastUpdated": "last_updated",
    "lastLogin": "last_login",
    "passwordChanged": "password_changed",
}


def _attribute(user: User, path: str) -> Any:
    if path.startswith("profile."):
        return user.profile.get(path[len("profile.") :])
    if path == "type.id":
        return USER_TYPE_ID
    if path in _TOP_LEVEL:
        return getattr(user, _TOP_LEVEL[path])
    return None


def _user(call: Call, check_lag: bool = False) -> User:
    user = call.org.find_user(call.param("user_id"))
    if check_lag and call.org.behaviour.is_replicating(user.born):
        raise not_found(call.param("user_id"), "User")
    return user


def _password(body: dict) -> str | None:
    """credentials.password.value, if given; E0000003 when credentials are not objects."""
    credentials = body.get("credentials") or {}
    password = credentials.get("password") if isinstance(credentials, dict) else None
    if password is None:
        return None
    if not isinstance(password, dict) or not isinstance(password.get("value", ""), str):
        raise bad_json()
    return password.get("value") or None


def create_user(call: Call) -> Reply:
    body = call.json()
    profile = body.get("profile")
    if profile is None:
        raise validation_failed("login", "The field cannot be left blank")
    if not isinstance(profile, dict):
        raise bad_json()
    password = _password(body)
    group_ids = body.get("groupIds") or []
    if not isinstance(group_ids, list):
        raise bad_json()
    activate = call.flag("activate", True)
    user = call.org.create_user(profile, password is not None, activate, group_ids, password)
    if user.status == "ACTIVE" and call.query("nextLogin") == "changePassword":
        user.set_status("PASSWORD_EXPIRED")
    return Reply(200, user_json(user, call.base))


def _matching_users(call: Call) -> list[User]:
    users = list(call.org.users.values())
    search = call.query("search")
    if search:
        # Okta's search index is eventually consistent: a user created a moment ago may be
        # missing from `search` results (create-then-search code must not re-create it).
        lagging = call.org.behaviour.is_replicating
        return [u for u in matching(users, search, _attribute) if not lagging(u.born)]
    expression = call.query("filter")
    if expression:
        return matching(users, expression, _attribute)
    users = [u for u in users if u.status != "DEPROVISIONED"]
    q = (call.query("q") or "").strip().lower()
    if q:
        fields = ("firstName", "lastName", "email")
        users = [
            u for u in users if any(str(u.profile.get(f, "")).lower().startswith(q) for f in fields)
        ]
    return users


def list_users(call: Call) -> Reply:
    chosen, headers = page(call, _matching_users(call), "/api/v1/users")
    return Reply(200, [user_json(u, call.base) for u in chosen], headers)


def get_user(call: Call) -> Reply:
    return Reply(200, user_json(_user(call, check_lag=True), call.base))


def update_user(call: Call) -> Reply:
    user = _user(call)
    replace = call.request.method == "PUT"
    body = call.json()
    profile = body.get("profile")
    if profile is not None and not isinstance(profile, dict):
        raise bad_json()
    password = _password(body)
    if password is not None:
        check_password(password, {**user.profile, **(profile or {})})
    if profile is not None or replace:
        call.org.update_profile(user, profile or {}, replace=replace)
    if password is not None:
        user.has_password = True
        user.password_changed = user.last_updated = now_iso()
    return Reply(200, user_json(user, call.base))


def delete_user(call: Call) -> Reply:
    lifecycle.delete(call.org, _user(call))
    return Reply(204)


def clear_sessions(call: Call) -> Reply:
    _user(call).sessions = 0
    return Reply(204)


def user_groups(call: Call) -> Reply:
    groups = call.org.groups_of(_user(call))
    return Reply(200, [group_json(g, call.base) for g in groups])


def app_links(call: Call) -> Reply:
    pairs = call.org.assignments_of(_user(call))
    return Reply(200, [app_link_json(a, s, call.base, i) for i, (a, s) in enumerate(pairs)])


def _activate(call: Call) -> Reply:
    send_email = call.flag("sendEmail", True)
    return Reply(200, lifecycle.activate(call.org, _user(call), call.base, send_email))


def _reactivate(call: Call) -> Reply:
    send_email = call.flag("sendEmail", True)
    return Reply(200, lifecycle.reactivate(call.org, _user(call), call.base, send_email))


def _reset_password(call: Call) -> Reply:
    send_email = call.flag("sendEmail", True)
    return Reply(200, lifecycle.reset_password(call.org, _user(call), call.base, send_email))


def _expire_password(call: Call) -> Reply:
    user = _user(call)
    temp = lifecycle.expire_password(call.org, user, call.flag("tempPassword", False))
    return Reply(200, {"tempPassword": temp} if temp else user_json(user, call.base))


def _simple(transition) -> Handler:
    def run(call: Call) -> Reply:
        transition(call.org, _user(call))
        return Reply(200, {})

    return run


LIFECYCLE: dict[str, Handler] = {
    "activate": _activate,
    "reactivate": _reactivate,
    "deactivate": _simple(lifecycle.deactivate),
    "suspend": _simple(lifecycle.suspend),
    "unsuspend": _simple(lifecycle.unsuspend),
    "unlock": _simple(lifecycle.unlock),
    "reset_password": _reset_password,
    "expire_password": _expire_password,
}
