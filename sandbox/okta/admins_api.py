"""/api/v1/users/me and /api/v1/users/{id}/roles: the token's admin and role assignments."""

from __future__ import annotations

from .admins import LABELS, Admin
from .errors import forbidden
from .pipeline import Call, Reply
from .resources import USER_TYPE_ID


def _admin_json(admin: Admin, base: str) -> dict:
    local = admin.login.split("@")[0]
    return {
        "id": admin.id,
        "status": "ACTIVE",
        "created": admin.created,
        "activated": admin.created,
        "statusChanged": admin.created,
        "lastLogin": None,
        "lastUpdated": admin.created,
        "passwordChanged": admin.created,
        "type": {"id": USER_TYPE_ID},
        "profile": {
            "firstName": local.title(),
            "lastName": "Admin",
            "email": admin.login,
            "login": admin.login,
        },  # fmt: skip
        "credentials": {"password": {}, "provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": f"{base}/api/v1/users/{admin.id}"}},
    }


def _role_json(admin: Admin, role: str, base: str) -> dict:
    return {
        "id": f"ra{admin.id[3:]}{sorted(LABELS).index(role):02d}",
        "label": LABELS[role],
        "type": role,
        "status": "ACTIVE",
        "created": admin.created,
        "lastUpdated": admin.created,
        "assignmentType": "USER",
        "_links": {"assignee": {"href": f"{base}/api/v1/users/{admin.id}"}},
    }


def me(call: Call) -> Reply:
    """`me` is the user the token acts as: the admin who created it."""
    return Reply(body=_admin_json(call.caller, call.base))


def roles(call: Call) -> Reply:
    """A user's role assignments. Only a Super Administrator's token may read another
    user's (terraform-provider-okta #1900: "failed to get roles: ... You do not have
    permission"); an admin reads their own."""
    caller: Admin = call.caller
    wanted = call.param("user_id")
    admin = next((a for a in call.org.admins.values() if a.id == wanted), None)
    if admin is not caller and "SUPER_ADMIN" not in caller.roles:
        raise forbidden()
    if admin is None:
        call.org.find_user(wanted)  # 404 for an unknown user
        return Reply(body=[])  # a user without admin roles
    return Reply(body=[_role_json(admin, role, call.base) for role in admin.roles])
