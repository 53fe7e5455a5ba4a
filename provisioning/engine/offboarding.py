"""What a leave took away, from its own succeeded steps (their params hold the ids, their
target names the names): the identity page shows it, and it is what a restore gives back
beyond the templates and grants (the exceptions, `Identity.access_exceptions`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from provisioning.engine import licences, roles
from provisioning.engine.planner import DISABLE_USER, REMOVE_GROUP, REMOVE_LICENSE, UNASSIGN_APP


@dataclass
class Removed:
    """What one offboarding took from one directory account."""

    groups: list[dict] = field(default_factory=list)  # {"id", "name"}
    licenses: list[dict] = field(default_factory=list)
    apps: list[dict] = field(default_factory=list)
    # Admin roles ({"id", "name", "eligible"}) and administrative units: recorded for the
    # page, never given back by a restore (admin rights come back only by hand).
    roles: list[dict] = field(default_factory=list)
    admin_units: list[dict] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.groups or self.licenses or self.apps or self.roles or self.admin_units)


def removed_by(steps) -> Removed:
    """The record of one connection's offboarding, from its succeeded steps."""
    removed = Removed()
    for step in steps:
        params = step.params
        if step.action == REMOVE_GROUP:
            removed.groups.append({"id": params["group_id"], "name": step.target_name})
        elif step.action == REMOVE_LICENSE:
            removed.licenses.append({"id": params["sku_id"], "name": step.target_name})
        elif step.action == licences.SET_LICENSES:
            removed.licenses += licences.removed_refs(params)
        elif step.action == UNASSIGN_APP:
            removed.apps.append({"id": params["app_id"], "name": step.target_name})
        elif step.action == roles.REMOVE_ROLE:
            held = {"eligible": bool(params.get("eligible"))}
            removed.roles.append({"id": params["role_id"], "name": step.target_name, **held})
        elif step.action == roles.REMOVE_ADMIN_UNIT:
            removed.admin_units.append({"id": params["unit_id"], "name": step.target_name})
        elif step.action == DISABLE_USER:
            removed.apps += params.get("drops_apps", [])
    removed.apps = list({a["id"]: a for a in removed.apps}.values())
    return removed


def removed_by_job(leave) -> dict[int, Removed]:
    """Per connection id, what an offboarding job removed."""
    succeeded = leave.steps.filter(status="succeeded").order_by("order")
    by_connection: dict[int, list] = {}
    for step in succeeded:
        by_connection.setdefault(step.connection_id, []).append(step)
    return {cid: removed_by(steps) for cid, steps in by_connection.items()}
