"""Creating an org from the control API's JSON (`POST /_sandbox/okta/orgs`) or the demo seed."""

from __future__ import annotations

import re
from typing import Any

from . import group_apps, rules
from .admins import check_roles
from .errors import OktaError
from .model import USER_STATUSES
from .org import OktaOrg

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _require_str(body: dict, key: str, where: str = "org") -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: '{key}' is required and must be a non-empty string")
    return value.strip()


def _list_of_dicts(body: dict, key: str) -> list[dict]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"org: '{key}' must be a list of objects")
    return value


def _add_user(org: OktaOrg, raw: dict) -> None:
    """A seeded user: profile, optional status, password flag, group names, app names,
    sessions, created and lastLogin (ISO timestamps)."""
    profile = raw.get("profile")
    if not isinstance(profile, dict):
        raise ValueError("user: 'profile' (firstName, lastName, email, login) is required")
    status = raw.get("status", "ACTIVE")
    if status not in USER_STATUSES:
        raise ValueError(f"user {profile.get('login')}: unknown status {status!r}")
    groups = {g.name: g for g in org.groups.values()}
    apps = {a.name: a for a in org.apps.values()}
    user = org.create_user(profile, raw.get("password", True), activate=False)
    if status != "STAGED":
        user.set_status(status)
    user.born = 0.0  # seeded users are old: never subject to replication lag
    user.sessions = int(raw.get("sessions", 0))
    user.last_login = raw.get("lastLogin")
    if raw.get("created"):
        user.created = user.last_updated = raw["created"]
    for name in raw.get("groups", []):
        if name not in groups:
            raise ValueError(f"user {user.login}: unknown group {name!r}")
        org.add_member(groups[name], user)
    for name in raw.get("apps", []):
        if name not in apps:
            raise ValueError(f"user {user.login}: unknown app {name!r}")
        if user.status != "DEPROVISIONED":
            org.assign(apps[name], user, "USER", None)


def _add_rule(org: OktaOrg, raw: dict) -> None:
    """A group rule: name, expression, target group names, active (default true)."""
    by_name = {g.name: g.id for g in org.groups.values()}
    names = raw.get("groups") or []
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"rule {raw.get('name')!r}: unknown groups {unknown}")
    group_ids = [by_name[n] for n in names]
    rule = rules.create(org, raw.get("name"), raw.get("expression"), group_ids, [])
    if raw.get("active", True):
        rules.activate(org, rule)


def _add_group(org: OktaOrg, raw: dict) -> None:
    """A group: name, description; "type": "APP_GROUP" with "source" (an app's name) for a
    group imported from that app (Active Directory, say)."""
    name = _require_str(raw, "name", "group")
    group_type = raw.get("type") or "OKTA_GROUP"
    if group_type not in ("OKTA_GROUP", "APP_GROUP"):
        raise ValueError(f"group {name!r}: type must be OKTA_GROUP or APP_GROUP")
    source = None
    if group_type == "APP_GROUP":
        apps = {a.name: a.id for a in org.apps.values()}
        source = apps.get(raw.get("source") or "")
        if source is None:
            raise ValueError(f"group {name!r}: an APP_GROUP needs 'source', the name of an app")
    org.create_group(name, raw.get("description") or "", group_type, source)


def _assign_groups(org: OktaOrg, raw: dict) -> None:
    """An app's "groups" (names): their members hold the app through them (scope GROUP)."""
    names = raw.get("groups") or []
    if not names:
        return
    by_name = {g.name: g for g in org.groups.values()}
    app = next(a for a in org.apps.values() if a.label == raw["label"])
    for name in names:
        if name not in by_name:
            raise ValueError(f"app {app.label!r}: unknown group {name!r}")
        group_apps.assign_group(org, app, by_name[name])


def _add_admins(org: OktaOrg, body: dict, read_only: list[str]) -> None:
    """Each token's admin: `api_token_roles` (default SUPER_ADMIN), READ_ONLY_ADMIN for the
    `read_only_tokens`, and `admin_tokens` ([{"token", "roles"}]) with any standard roles."""
    if "api_token_roles" in body:
        org.add_admin(org.api_token, check_roles(body["api_token_roles"], "api_token_roles"))
    for token in read_only:
        org.add_admin(token, ["READ_ONLY_ADMIN"])
    for raw in _list_of_dicts(body, "admin_tokens"):
        org.add_admin(
            _require_str(raw, "token", "admin_tokens"),
            check_roles(raw.get("roles"), "admin_tokens"),
        )


def _activation_seconds(body: dict) -> float:
    value = body.get("activation_ms", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("org: 'activation_ms' must be a whole number of milliseconds, 0 or more")
    return value / 1000


def update_settings(org: OktaOrg, body: dict) -> None:
    """The control API's PUT of an org's settings: `activation_ms` alone, for now."""
    if not isinstance(body, dict) or set(body) - {"activation_ms"}:
        raise ValueError("settings: a JSON object with 'activation_ms' only")
    if "activation_ms" in body:
        org.set_activation(_activation_seconds(body))


def settings_of(org: OktaOrg) -> dict:
    return {"activation_ms": round(org.activation_s * 1000)}


def build_org(body: dict) -> OktaOrg:
    """An org from its JSON description; raises ValueError naming what is wrong."""
    if not isinstance(body, dict):
        raise ValueError("org: the body must be a JSON object")
    org_id = _require_str(body, "id")
    if not _SLUG.match(org_id):
        raise ValueError("org: 'id' must be a slug (lower-case letters, digits, dashes)")
    org = OktaOrg(org_id, _require_str(body, "name"), _require_str(body, "api_token"))
    read_only = body.get("read_only_tokens") or []
    if not isinstance(read_only, list) or not all(isinstance(t, str) and t for t in read_only):
        raise ValueError("org: 'read_only_tokens' must be a list of non-empty strings")
    org.read_only_tokens = list(read_only)
    _add_admins(org, body, read_only)
    org.activation_s = _activation_seconds(body)
    try:
        if body.get("behaviour"):
            org.behaviour.update(body["behaviour"])
        apps = _list_of_dicts(body, "apps")
        for raw in apps:
            label = _require_str(raw, "label", "app")
            name = raw.get("name") or re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
            org.create_app(name, label, raw.get("signOnMode") or "AUTO_LOGIN")
        for raw in _list_of_dicts(body, "groups"):
            _add_group(org, raw)
        for raw in apps:
            _assign_groups(org, raw)
        for raw in _list_of_dicts(body, "users"):
            _add_user(org, raw)
        for raw in _list_of_dicts(body, "rules"):
            _add_rule(org, raw)
    except OktaError as error:
        raise ValueError(f"org {org_id}: {error.summary}: {'; '.join(error.causes)}") from None
    return org


def create_org(state: Any, body: dict) -> OktaOrg:
    """Build the org described by `body` and store it in `state.okta`."""
    org = build_org(body)
    if org.id in state.okta:
        raise ValueError(f"an Okta org with id {org.id!r} already exists")
    state.okta[org.id] = org
    return org
