"""Plans of the leaver's side: offboarding, restoring a leaver, and the final delete.

What an offboarding removes is recorded by its own steps (their params hold the ids and
their target names the names), so a restore puts back exactly what succeeded in being
removed, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from provisioning.connectors.base import DirectoryUser, Resource
from provisioning.engine.planner import (
    ADD_GROUP,
    ASSIGN_APP,
    ASSIGN_LICENSE,
    ENABLE_USER,
    REMOVE_GROUP,
    REMOVE_LICENSE,
    UNASSIGN_APP,
    Plan,
    PlannedStep,
    Problem,
    _current_user,
)

DISABLE_USER, REVOKE_SESSIONS, RESET_PASSWORD = "disable_user", "revoke_sessions", "reset_password"
DELETE_USER, PURGE_USER, UPDATE_USER = "delete_user", "purge_user", "update_user"
RESTORABLE_ATTRIBUTES = ("department", "job_title", "office", "company", "usage_location")


async def plan_offboarding(
    connector, connection_id: int, username: str, remote_id: str, options: dict
) -> Plan:
    plan = Plan(connection_id, connector.kind)
    user = await _current_user(connector, username, remote_id)
    if user is None:
        plan.problems.append(_no_account(username))
        return plan
    plan.user = user
    access = await connector.access_of(user.id)
    modes, wanted = connector.disable_modes, options.get("okta_mode")
    mode = (wanted if wanted in modes else modes[0]) if modes else None  # None: one way only
    deactivate = mode == "deactivate"
    status = user.attributes.get("status", "")
    if options.get("reset_password"):
        plan.steps.append(PlannedStep(RESET_PASSWORD, "random, never shown or stored"))
    if options.get("block_sign_in") and (
        user.enabled or (deactivate and status != "DEPROVISIONED")
    ):
        params = {"mode": mode} if mode else {}
        label = user.username
        if deactivate:
            apps = await connector.apps()
            params["drops_apps"] = [_ref(apps, app_id) for app_id in sorted(access.apps)]
            label += " (deactivate: drops app assignments)"
        plan.steps.append(PlannedStep(DISABLE_USER, label, params))
    if options.get("revoke_sessions"):
        plan.steps.append(PlannedStep(REVOKE_SESSIONS, user.username))
    if options.get("remove_groups"):
        await _remove_groups(connector, plan, access.groups, options.get("keep_groups") or [])
    if options.get("remove_licenses") and connector.supports_licences:
        skus = await connector.licenses()
        for sku_id in sorted(access.licenses):
            ref = _ref(skus, sku_id)
            plan.steps.append(PlannedStep(REMOVE_LICENSE, ref["name"], {"sku_id": sku_id}))
    if options.get("remove_apps"):
        apps = await connector.apps()
        for app_id in sorted(access.apps):
            ref = _ref(apps, app_id)
            plan.steps.append(PlannedStep(UNASSIGN_APP, ref["name"], {"app_id": app_id}))
    return plan


async def _remove_groups(connector, plan: Plan, held, keep: list[str]) -> None:
    groups = await connector.groups()
    kept = {k.casefold() for k in keep}
    for group_id in sorted(held):
        group = next((g for g in groups if g.id == group_id), None)
        name = group.name if group else group_id
        if name.casefold() in kept or group_id in keep:
            continue
        if group and (group.detail.get("dynamic") or group.detail.get("builtin")):
            why = "rule-based" if group.detail.get("dynamic") else "built in"
            plan.problems.append(
                Problem(
                    "kept_group",
                    f"“{name}” is {why}: the directory manages its members, so it stays.",
                    name,
                    blocking=False,
                )
            )
            continue
        plan.steps.append(PlannedStep(REMOVE_GROUP, name, {"group_id": group_id}))


def _ref(resources: list[Resource], resource_id: str) -> dict:
    found = next((r for r in resources if r.id == resource_id), None)
    return {"id": resource_id, "name": found.name if found else resource_id}


def _no_account(username: str) -> Problem:
    return Problem(
        "no_account",
        f"No account {username} in this directory: nothing to do there.",
        username,
        blocking=False,
    )


@dataclass
class Removed:
    """What one offboarding took from one directory account."""

    groups: list[dict] = field(default_factory=list)  # {"id", "name"}
    licenses: list[dict] = field(default_factory=list)
    apps: list[dict] = field(default_factory=list)
    attributes: dict = field(default_factory=dict)
    was_enabled: bool = True

    @property
    def empty(self) -> bool:
        return not (self.groups or self.licenses or self.apps)


def removed_by(steps, attributes: dict | None = None) -> Removed:
    """The record of one connection's offboarding, from its succeeded steps."""
    removed = Removed(attributes=attributes or {})
    for step in steps:
        params = step.params
        if step.action == REMOVE_GROUP:
            removed.groups.append({"id": params["group_id"], "name": step.target_name})
        elif step.action == REMOVE_LICENSE:
            removed.licenses.append({"id": params["sku_id"], "name": step.target_name})
        elif step.action == UNASSIGN_APP:
            removed.apps.append({"id": params["app_id"], "name": step.target_name})
        elif step.action == DISABLE_USER:
            removed.apps += params.get("drops_apps", [])
    removed.apps = list({a["id"]: a for a in removed.apps}.values())
    return removed


async def plan_restore(
    connector, connection_id: int, username: str, remote_id: str, removed: Removed
) -> Plan:
    plan = Plan(connection_id, connector.kind)
    user = await _current_user(connector, username, remote_id)
    if user is None:
        plan.problems.append(
            Problem(
                "gone",
                f"{username} is no longer in this directory: rehire them as a new join.",
                username,
            )
        )
        return plan
    plan.user = user
    if not user.enabled:
        plan.steps.append(PlannedStep(ENABLE_USER, user.username))
    changed = _changed_back(user, removed.attributes)
    if changed:
        plan.steps.append(PlannedStep(UPDATE_USER, ", ".join(changed), {"attributes": changed}))
    access = await connector.access_of(user.id)
    for ref in removed.licenses:
        if ref["id"] not in access.licenses:
            plan.steps.append(PlannedStep(ASSIGN_LICENSE, ref["name"], {"sku_id": ref["id"]}))
    for ref in removed.groups:
        if ref["id"] not in access.groups:
            plan.steps.append(PlannedStep(ADD_GROUP, ref["name"], {"group_id": ref["id"]}))
    for ref in removed.apps:
        if ref["id"] not in access.apps:
            plan.steps.append(PlannedStep(ASSIGN_APP, ref["name"], {"app_id": ref["id"]}))
    return plan


def _changed_back(user: DirectoryUser, recorded: dict) -> dict:
    return {
        name: value
        for name in RESTORABLE_ATTRIBUTES
        if (value := recorded.get(name)) and user.attributes.get(name) != value
    }


async def plan_delete(connector, connection_id: int, username: str, remote_id: str) -> Plan:
    """Entra: soft delete, then purge from deleted items; Okta: deactivate, then delete."""
    plan = Plan(connection_id, connector.kind)
    user = await _current_user(connector, username, remote_id) if remote_id else None
    if user is None and not remote_id:
        plan.problems.append(_no_account(username))
        return plan
    user_id = user.id if user else remote_id
    if user is not None:
        plan.steps.append(PlannedStep(DELETE_USER, username, {"user_id": user_id}))
    if connector.soft_deletes:
        plan.steps.append(PlannedStep(PURGE_USER, username, {"user_id": user_id}))
    return plan
