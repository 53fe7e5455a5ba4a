"""Which app role a user is given when assigned an app.

An app's `Resource.detail["user_roles"]` lists the roles a user may hold (enabled, allowed
for users: Entra's `allowedMemberTypes` holds "User"), as {"id", "name", "value"}; a
directory without app roles (Okta) leaves the key out. A role template names an app alone
("Salesforce") or with its role ("Salesforce / Admin").
"""

from __future__ import annotations

from dataclasses import dataclass

from provisioning.connectors.base import Resource

DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"  # Graph: an app with no user roles


@dataclass(frozen=True)
class RoleChoice:
    role_id: str | None = None  # None and no problem: the directory has no app roles
    problem: str = ""  # why no role can be chosen, in the technician's words
    options: tuple[str, ...] = ()  # the names of the roles a user may hold

    @property
    def params(self) -> dict:
        return {"app_role_id": self.role_id} if self.role_id else {}


def split_entry(entry: str) -> tuple[str, str]:
    """("Salesforce", "Admin") for "Salesforce / Admin"; (entry, "") without a role."""
    app, sep, role = entry.rpartition("/")
    return (app.strip(), role.strip()) if sep and app.strip() and role.strip() else (entry, "")


def choose_user_role(app: Resource, wanted: str = "") -> RoleChoice:
    """The named role; else the app's one role for users; else default access when it has
    none; else no choice, with the roles to choose from."""
    roles = app.detail.get("user_roles")
    if roles is None:
        return RoleChoice()
    names = tuple(r["name"] for r in roles)
    if wanted:
        key = wanted.casefold()
        match = next(
            (r for r in roles if key in (r["name"].casefold(), r["value"].casefold(), r["id"])),
            None,
        )
        if match is not None:
            return RoleChoice(match["id"], options=names)
        return RoleChoice(problem=_no_such_role(app, wanted, names), options=names)
    if len(roles) == 1:
        return RoleChoice(roles[0]["id"], options=names)
    if not roles:
        return RoleChoice(DEFAULT_ACCESS)
    return RoleChoice(
        problem=(
            f"“{app.name}” has {len(roles)} roles for users ({', '.join(names)}): name one "
            f"in the role template, as “{app.name} / {names[0]}”."
        ),
        options=names,
    )


def _no_such_role(app: Resource, wanted: str, names: tuple[str, ...]) -> str:
    if not names:
        return f"“{app.name}” has no roles for users, so no “{wanted}”: name the app alone."
    return (
        f"“{app.name}” has no role “{wanted}” for users; its roles for users: {', '.join(names)}."
    )
