"""Apps assigned to groups: every member holds the app, with scope GROUP.

As in Okta: a member of an assigned group gets an app user (scope GROUP) and loses it when
they leave the last such group, unless the app was also assigned to them directly (then the
scope falls back to USER); an app that a group of theirs grants cannot be unassigned from the
user (403 E0000046, "Deactivate application for user forbidden."); deactivated users hold no
apps, and activation gives back what their groups grant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import OktaError
from .model import App, Assignment, Group, User, now_iso

if TYPE_CHECKING:
    from .org import OktaOrg

GRANTED_BY_GROUP = (
    "The application cannot be unassigned from the user while their group memberships "
    "grant them access"
)


def granting_groups(org: OktaOrg, app: App, user_id: str) -> list[str]:
    """The ids of the user's groups that `app` is assigned to."""
    return [gid for gid in app.groups if gid in org.groups and user_id in org.groups[gid].members]


def refuse_unassign_if_granted(org: OktaOrg, app: App, user_id: str) -> None:
    if granting_groups(org, app, user_id):
        raise OktaError(
            403, "E0000046", "Deactivate application for user forbidden.", [GRANTED_BY_GROUP]
        )


def sync_user(org: OktaOrg, user: User, apps: list[App] | None = None) -> None:
    """Bring the user's group-made app users in line with their groups."""
    if user.status == "DEPROVISIONED" and user.transitioning_to is None:
        return
    for app in apps if apps is not None else org.apps.values():
        if not app.groups:
            continue
        granted = bool(granting_groups(org, app, user.id))
        current = app.assignments.get(user.id)
        if granted and current is None:
            stamp = now_iso()
            app.assignments[user.id] = Assignment(
                user.id, "GROUP", user.login, stamp, stamp, direct=False
            )
        elif current is not None and not granted and not current.direct:
            del app.assignments[user.id]
        elif current is not None:
            scope = "GROUP" if granted else "USER"
            if current.scope != scope:
                current.scope, current.last_updated = scope, now_iso()


def group_has_apps(org: OktaOrg, group: Group) -> bool:
    return any(group.id in app.groups for app in org.apps.values())


def assign_group(org: OktaOrg, app: App, group: Group) -> str:
    """Assign `group` to `app` (idempotent); its members get the app."""
    stamp = app.groups.setdefault(group.id, now_iso())
    for user_id in list(group.members):
        if user_id in org.users:
            sync_user(org, org.users[user_id], [app])
    return stamp


def unassign_group(org: OktaOrg, app: App, group: Group) -> None:
    app.groups.pop(group.id, None)
    for user_id in list(group.members):
        if user_id in org.users:
            sync_user(org, org.users[user_id], [app])
