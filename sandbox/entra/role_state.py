"""A tenant's directory roles and administrative units, as data (no HTTP here).

Entra keeps one set of active role assignments and shows it two ways: as the unified RBAC
`roleAssignments` (roleDefinitionId, principalId, directoryScopeId) and, for tenant-wide
ones, as members of an activated `directoryRole` (its own object id, its roleTemplateId).
PIM eligibilities are separate: an eligible person holds no permission until they activate,
and no `directoryRole` membership shows them. Administrative units hold members like
groups do, but are their own type (`#microsoft.graph.administrativeUnit`).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

# Built-in role templates: template id == roleDefinitionId, the same in every tenant
# (https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference).
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
PRIVILEGED_AUTH_ADMIN = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
BUILT_IN_ROLES = {
    GLOBAL_ADMIN: "Global Administrator",
    USER_ADMIN: "User Administrator",
    PRIVILEGED_AUTH_ADMIN: "Privileged Authentication Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "c4e39bd9-1100-46d3-8c65-fb160da0071f": "Authentication Administrator",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
    "966707d0-3269-4727-9be2-8c3a10f19b9d": "Password Administrator",
    "29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
    "fdd7a751-b60b-444a-984c-02652fe8fa1c": "Groups Administrator",
    "88d8e3e3-8f55-4a1e-953a-9b9898b8876b": "Directory Readers",
    "95e79109-95c0-4d8e-aee3-d01accf2d47b": "Guest Inviter",
    "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b": "Message Center Reader",
    "4a5d8f65-41da-4de4-8968-e035b65339cf": "Reports Reader",
    "75934031-6c7e-415a-99d7-48dbd49e875e": "Usage Summary Reports Reader",
}
# "Who can reset passwords" and "Who can perform sensitive actions" (entra-docs
# privileged-roles-permissions.md; both tables tick the same rows under User Admin): a User
# Administrator reaches users who hold no role or only these; anyone else needs a Privileged
# Authentication Administrator (or a Global Administrator).
USER_ADMIN_MAY_RESET = frozenset(
    {
        USER_ADMIN,
        "fdd7a751-b60b-444a-984c-02652fe8fa1c",  # Groups Administrator
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",  # Helpdesk Administrator
        "966707d0-3269-4727-9be2-8c3a10f19b9d",  # Password Administrator
        "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",  # Directory Readers
        "95e79109-95c0-4d8e-aee3-d01accf2d47b",  # Guest Inviter
        "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b",  # Message Center Reader
        "4a5d8f65-41da-4de4-8968-e035b65339cf",  # Reports Reader
        "75934031-6c7e-415a-99d7-48dbd49e875e",  # Usage Summary Reports Reader
    }
)
# The Auth Admin column of "Who can perform sensitive actions" (an app's password resets take
# at least a User Administrator, so this column serves the other sensitive actions only).
AUTH_ADMIN = "c4e39bd9-1100-46d3-8c65-fb160da0071f"
AUTH_ADMIN_REACHES = frozenset(
    {
        AUTH_ADMIN,
        "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",  # Directory Readers
        "95e79109-95c0-4d8e-aee3-d01accf2d47b",  # Guest Inviter
        "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b",  # Message Center Reader
        "966707d0-3269-4727-9be2-8c3a10f19b9d",  # Password Administrator
        "4a5d8f65-41da-4de4-8968-e035b65339cf",  # Reports Reader
        "75934031-6c7e-415a-99d7-48dbd49e875e",  # Usage Summary Reports Reader
    }
)
RESETS_ANYONE = frozenset({GLOBAL_ADMIN, PRIVILEGED_AUTH_ADMIN})
RESETS_SOME = frozenset({USER_ADMIN})


def role_template(key: str) -> str:
    """A built-in role's template id, from its id or display name; ValueError otherwise."""
    if key in BUILT_IN_ROLES:
        return key
    for template, name in BUILT_IN_ROLES.items():
        if name.casefold() == str(key).casefold():
            return template
    raise ValueError(f"unknown directory role {key!r}; known: {sorted(BUILT_IN_ROLES.values())}")


def assignment_id(template: str, principal: str) -> str:
    """An id shaped like Graph's (base64url of the two GUIDs, then "-1")."""
    raw = uuid.UUID(template).bytes_le + uuid.UUID(principal).bytes_le
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") + "-1"


@dataclass
class Assignment:
    id: str
    principal_id: str
    role_id: str  # roleDefinitionId (the template id for built-in roles)
    scope: str = "/"  # directoryScopeId: "/" or /administrativeUnits/{id}
    created: str = ""


@dataclass
class AdminUnit:
    id: str
    display_name: str
    description: str | None = None
    members: dict[str, None] = field(default_factory=dict)  # principal ids, an ordered set


@dataclass
class RoleState:
    active: dict[str, Assignment] = field(default_factory=dict)
    eligible: dict[str, Assignment] = field(default_factory=dict)
    role_objects: dict[str, str] = field(default_factory=dict)  # template -> directoryRole id
    admin_units: dict[str, AdminUnit] = field(default_factory=dict)
    # The calling apps' own service principals: client id -> object id (the principal their
    # directory roles are assigned to).
    app_principals: dict[str, str] = field(default_factory=dict)

    def app_principal(self, client_id: str) -> str:
        return self.app_principals.setdefault(client_id, str(uuid.uuid4()))

    def activate(self, template: str) -> str:
        """The directoryRole object id of a role template (activated on first use)."""
        return self.role_objects.setdefault(template, str(uuid.uuid4()))

    def template_of(self, role_object_id: str) -> str | None:
        return next((t for t, o in self.role_objects.items() if o == role_object_id), None)

    def assign(self, principal: str, template: str, created: str, *, eligible: bool = False):
        held = self.eligible if eligible else self.active
        found = self.find(held, principal, template)
        if found is not None:
            return found
        if not eligible:
            self.activate(template)
        new_id = assignment_id(template, principal) if not eligible else str(uuid.uuid4())
        held[new_id] = Assignment(new_id, principal, template, "/", created)
        return held[new_id]

    @staticmethod
    def find(held: dict[str, Assignment], principal: str, template: str) -> Assignment | None:
        return next(
            (
                a
                for a in held.values()
                if a.principal_id == principal and a.role_id == template and a.scope == "/"
            ),
            None,
        )

    def roles_of(self, principal: str, *, eligible: bool = False) -> list[Assignment]:
        held = self.eligible if eligible else self.active
        return [a for a in held.values() if a.principal_id == principal]

    def units_of(self, principal: str) -> list[AdminUnit]:
        return [u for u in self.admin_units.values() if principal in u.members]

    def forget(self, principal: str) -> None:
        """A principal deleted for good leaves every role and unit."""
        for held in (self.active, self.eligible):
            for key in [k for k, a in held.items() if a.principal_id == principal]:
                del held[key]
        for unit in self.admin_units.values():
            unit.members.pop(principal, None)

    def to_json(self) -> dict:
        return {
            "active": [a.__dict__ for a in self.active.values()],
            "eligible": [a.__dict__ for a in self.eligible.values()],
            "role_objects": self.role_objects,
            "app_principals": self.app_principals,
            "admin_units": [
                {**u.__dict__, "members": list(u.members)} for u in self.admin_units.values()
            ],
        }

    def to_state(self, name_of: Callable[[str], str]) -> dict:
        """The control API's view: principals by name (a UPN, or the app's client id)."""

        def held(assignments: dict[str, Assignment]) -> list[dict]:
            return [
                {
                    "id": a.id,
                    "role": BUILT_IN_ROLES.get(a.role_id, a.role_id),
                    "roleDefinitionId": a.role_id,
                    "principal": name_of(a.principal_id),
                    "directoryScopeId": a.scope,
                }
                for a in assignments.values()
            ]

        return {
            "roleAssignments": held(self.active),
            "roleEligibilities": held(self.eligible),
            "administrativeUnits": [
                {
                    "id": u.id,
                    "displayName": u.display_name,
                    "members": list(map(name_of, u.members)),
                }
                for u in self.admin_units.values()
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> RoleState:
        state = cls(role_objects=dict(data.get("role_objects") or {}))
        state.active = {a["id"]: Assignment(**a) for a in data.get("active") or []}
        state.eligible = {a["id"]: Assignment(**a) for a in data.get("eligible") or []}
        state.app_principals = dict(data.get("app_principals") or {})
        for unit in data.get("admin_units") or []:
            state.admin_units[unit["id"]] = AdminUnit(
                unit["id"],
                unit["display_name"],
                unit.get("description"),
                dict.fromkeys(unit.get("members") or []),
            )
        return state
