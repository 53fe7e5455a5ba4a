"""/api/v1/users: create, read, list and search, update, lifecycle, delete, sessions."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from . import lifecycle
from .errors import bad_json, invalid_search, not_found, validation_failed
from .listing import analysed, limit_param, page, page_matching, sorted_page
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


# What Okta's List Users documents (the okta SDK 3.x docstrings carry its OpenAPI text):
# `search` covers "Any user profile attribute" and "The top-level properties: id, status,
# created, activated, statusChanged, and lastUpdated" and type.id; "The ne (not equal)
# operator isn't supported". `filter` supports "only the equal eq operator ..., except in the
# case of the lastUpdated property. This property can also use the inequality operators (gt,
# ge, lt, and le)", only `and`/`or` ("The not operator isn't supported"), and is
# "case-sensitive for property names and query values", and "supports the following limited
# number of properties: status, lastUpdated, id, profile.login, profile.email,
# profile.firstName, and profile.lastName": anything else is E0000031. In `search`, "You can
# only use co with these select user profile attributes: profile.firstName, profile.lastName,
# profile.email, and profile.login".
SEARCHABLE = frozenset({"id", "status", "created", "activated", "statusChanged", "lastUpdated"})
CONTAINS = frozenset({"profile.firstName", "profile.lastName", "profile.email", "profile.login"})
FILTERABLE = frozenset(
    {
        "status",
        "lastUpdated",
        "id",
        "profile.login",
        "profile.email",
        "profile.firstName",
        "profile.lastName",
    }
)
INEQUALITIES = frozenset({"gt", "ge", "lt", "le"})
Q_LIMIT = 10  # "Defaults to 10 if q is provided"; q "doesn't support pagination"


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
    if call.query("nextLogin") == "changePassword":
        if user.transitioning_to == "ACTIVE":
            user.transitioning_to = "PASSWORD_EXPIRED"
        elif user.status == "ACTIVE":
            user.set_status("PASSWORD_EXPIRED")
    return Reply(200, user_json(user, call.base))


def _search(call: Call, text: str) -> Callable[[User], bool]:
    compiled = analysed(text, _attribute)
    for attribute, operator in compiled.clauses:
        if not (
            attribute.startswith("profile.") or attribute in SEARCHABLE or attribute == "type.id"
        ):
            raise invalid_search(f"{attribute} is not a searchable property")
        if operator == "ne":
            raise invalid_search("The ne operator isn't supported; use (x lt v or x gt v)")
        if operator == "co" and attribute not in CONTAINS:
            raise invalid_search(f"co is supported only on {', '.join(sorted(CONTAINS))}")
    lag_ms = call.org.behaviour.settings.replication_lag_ms
    predicate = compiled.predicate
    if lag_ms <= 0:
        return predicate
    # Okta's search index is eventually consistent ("Use an ID lookup for records that you
    # update to ensure your results contain the latest data"): a user created or changed
    # less than the lag ago is not found yet, so create-then-search code must not create it
    # again, and a lastUpdated watermark taken from the clock loses such changes.
    lagging = call.org.behaviour.is_replicating
    horizon = time.time() - lag_ms / 1000

    def settled(user: User) -> bool:
        changed = dt.datetime.fromisoformat(user.last_updated.replace("Z", "+00:00"))
        return not lagging(user.born) and changed.timestamp() <= horizon

    return lambda user: settled(user) and predicate(user)


def _filter(text: str) -> Callable[[User], bool]:
    compiled = analysed(text, _attribute, ignore_case=False)
    if compiled.negated:
        raise invalid_search("The not operator isn't supported in filter")
    for attribute, operator in compiled.clauses:
        if attribute not in FILTERABLE:
            raise invalid_search(f"filter does not support {attribute}; use search")
        if operator != "eq" and not (attribute == "lastUpdated" and operator in INEQUALITIES):
            raise invalid_search(f"filter supports only eq on {attribute}")
    return compiled.predicate


def _q(text: str) -> Callable[[User], bool]:
    q = text.strip().lower()
    fields = ("firstName", "lastName", "email")

    def keep(user: User) -> bool:
        if user.status == "DEPROVISIONED":
            return False
        return any(str(user.profile.get(f, "")).lower().startswith(q) for f in fields)

    return keep


def _fields(text: str) -> tuple[set[str], set[str] | None]:
    """`fields=status,profile:(firstName, city)`: the top-level names and, with a `profile:()`
    directive, the profile's (None without one)."""
    top: set[str] = set()
    profile: set[str] | None = None
    depth, part, parts = 0, "", []
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(part)
            part = ""
        else:
            part += char
    parts.append(part)
    for raw in (p.strip() for p in parts):
        if raw.startswith("profile:(") and raw.endswith(")"):
            inner = raw[len("profile:(") : -1]
            profile = (profile or set()) | {n.strip() for n in inner.split(",") if n.strip()}
        elif raw:
            top.add(raw)
    return top, profile


def _listed(call: Call, users: list[User]) -> list[dict]:
    """The users as JSON, projected by `fields` when given: "Specifies a select set of user
    properties to query. Any other properties will be filtered out of the returned users …
    place sub-fields in the profile object inside a `profile:()` directive … The `id` field is
    always included" (okta SDK 3.x `UserApi.list_users`). A name the user lacks is left out;
    what Okta answers for a name that is no property is not published. The sandbox ignored
    `fields` and answered every property."""
    bodies = [user_json(u, call.base) for u in users]
    text = call.query("fields")
    if not text or not text.strip():
        return bodies
    top, profile = _fields(text)
    projected = []
    for body in bodies:
        kept = {k: v for k, v in body.items() if k == "id" or (k in top and k != "profile")}
        if profile is not None:
            whole = body.get("profile") or {}
            kept["profile"] = {k: whole[k] for k in whole if k in profile}
        elif "profile" in top:
            kept["profile"] = body.get("profile")
        projected.append(kept)
    return projected


def _sorted_search(call: Call, keep: Callable[[User], bool], path: str) -> Reply:
    """A search ordered by `sortBy`/`sortOrder` (listing.sorted_page; the sandbox answered
    a sorted search in id order)."""
    found = [u for u in call.org.users_by_id() if keep(u)]
    chosen, headers = sorted_page(call, found, "/api/v1/users", lambda u: _attribute(u, path), 200)
    return Reply(200, _listed(call, chosen), headers)


def list_users(call: Call) -> Reply:
    search, expression, q = call.query("search"), call.query("filter"), call.query("q")
    if search and call.query("sortBy"):
        return _sorted_search(call, _search(call, search), call.query("sortBy"))
    if search:
        keep = _search(call, search)
    elif expression:
        keep = _filter(expression)
    elif q and q.strip():
        keep = _q(q)
        found = [u for u in call.org.users_by_id() if keep(u)][: limit_param(call, Q_LIMIT, 200)]
        return Reply(200, _listed(call, found))
    else:
        # Without search or filter Okta leaves DEPROVISIONED users out.
        def keep(user: User) -> bool:
            return user.status != "DEPROVISIONED"

    chosen, headers = page_matching(call, call.org.users_by_id(), keep, "/api/v1/users")
    return Reply(200, _listed(call, chosen), headers)


def get_user(call: Call) -> Reply:
    return Reply(200, user_json(_user(call, check_lag=True), call.base))


def update_user(call: Call) -> Reply:
    user = _user(call)
    if user.status == "DEPROVISIONED" and user.transitioning_to is None:
        # "Users with the DEPROVISIONED status won't have their profiles updated when running
        # the Update a user endpoint" (developer.okta.com, Deactivate a user; the "Edit
        # deactivated user profiles" option, off by default, is not emulated). Okta answers
        # 404 E0000007 (okta/okta-sdk-java#721). A user being activated takes writes.
        raise not_found(user.id, "User")
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
    """Okta pages a user's groups like any list: "after" (the cursor from the Link header)
    and "limit" (<= 200, default 200), per List all groups (of a user),
    https://developer.okta.com/docs/api/openapi/okta-management/management/tags/userresources/other/listusergroups.
    A limit above 200 gives 200, as the other lists here clamp theirs."""
    user = _user(call)
    groups = call.org.groups_of(user)
    chosen, headers = page(call, groups, f"/api/v1/users/{user.id}/groups", 200, 200)
    return Reply(200, [group_json(g, call.base) for g in chosen], headers)


def app_links(call: Call) -> Reply:
    """Not paged: List all assigned app links takes no `after` or `limit` (okta SDK 3.x
    UserResourcesApi.list_app_links, from Okta's OpenAPI spec), and answers every link."""
    pairs = call.org.assignments_of(_user(call))
    return Reply(200, [app_link_json(a, s, call.base, i) for i, (a, s) in enumerate(pairs)])


def _activate(call: Call) -> Reply:
    send_email = call.flag("sendEmail", True)
    return Reply(200, lifecycle.activate(call.org, _user(call), call.base, send_email))


def _reactivate(call: Call) -> Reply:
    send_email = call.flag("sendEmail", False)  # the reference's default, unlike activate's
    return Reply(200, lifecycle.reactivate(call.org, _user(call), call.base, send_email))


def _reset_password(call: Call) -> Reply:
    send_email, revoke = call.flag("sendEmail", True), call.flag("revokeSessions", False)
    return Reply(
        200, lifecycle.reset_password(call.org, _user(call), call.base, send_email, revoke)
    )


def _expire_password(call: Call) -> Reply:
    user = _user(call)
    temp = lifecycle.expire_password(call.org, user, call.flag("tempPassword", False))
    return Reply(200, {"tempPassword": temp} if temp else user_json(user, call.base))


def _expire_with_temp_password(call: Call) -> Reply:
    """UserCred's expirePasswordWithTempPassword: PASSWORD_EXPIRED, and the temporary
    password in the answer ({"tempPassword"}); a second call replaces the first password."""
    revoke = call.flag("revokeSessions", False)
    temp = lifecycle.expire_password(call.org, _user(call), True, revoke)
    return Reply(200, {"tempPassword": temp})


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
    "expire_password_with_temp_password": _expire_with_temp_password,
}
