"""The admins behind an org's API tokens: a token acts with its admin's standard roles.

Okta's "Standard administrator roles and permissions" table: Super and Org Administrators
manage users, groups and apps; a Group Administrator (USER_ADMIN) users and group members;
a Group Membership Administrator only group members; an Application Administrator apps and
their assignments; a Help Desk Administrator resets passwords and unlocks; a Read-only
Administrator reads. Role targets (a role limited to some groups or apps) are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import new_id, now_iso

LABELS = {
    "SUPER_ADMIN": "Super Administrator",
    "ORG_ADMIN": "Organizational Administrator",
    "USER_ADMIN": "Group Administrator",
    "GROUP_MEMBERSHIP_ADMIN": "Group Membership Administrator",
    "APP_ADMIN": "Application Administrator",
    "HELP_DESK_ADMIN": "Help Desk Administrator",
    "READ_ONLY_ADMIN": "Read-only Administrator",
    "REPORT_ADMIN": "Report Administrator",
    "MOBILE_ADMIN": "Mobile Administrator",
    "API_ACCESS_MANAGEMENT_ADMIN": "API Access Management Administrator",
}
_ALL = frozenset({"SUPER_ADMIN", "ORG_ADMIN"})
_USERS = _ALL | {"USER_ADMIN"}
_PASSWORDS = _USERS | {"HELP_DESK_ADMIN"}
_MEMBERS = _USERS | {"GROUP_MEMBERSHIP_ADMIN"}
_APPS = _ALL | {"APP_ADMIN"}


def writers(family: str, template: str) -> frozenset[str]:
    """The roles that may make a write to `template` (a route of endpoint `family`)."""
    if template.endswith(("/reset_password", "/unlock", "/expire_password")):
        return _PASSWORDS
    if family == "users":
        return _USERS
    if template == "/api/v1/groups/{groupId}/users/{userId}":
        return _MEMBERS
    if family == "apps":
        return _APPS
    return _ALL  # group and rule changes, the org, anything else


@dataclass
class Admin:
    token: str
    roles: list[str]
    login: str
    id: str = field(default_factory=lambda: new_id("00u"))
    created: str = field(default_factory=now_iso)

    def may_write(self, family: str, template: str) -> bool:
        return bool(writers(family, template).intersection(self.roles))

    def to_json(self) -> dict:
        return {"token": self.token, "roles": self.roles, "login": self.login, "id": self.id,
                "created": self.created}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict) -> Admin:
        return cls(data["token"], list(data["roles"]), data["login"], data["id"], data["created"])


def check_roles(roles: object, where: str) -> list[str]:
    """Role types from the control API; ValueError naming an unknown one."""
    if not isinstance(roles, list) or not roles or not all(r in LABELS for r in roles):
        raise ValueError(f"{where}: 'roles' must be a non-empty list of {sorted(LABELS)}")
    return list(roles)
