"""The planner: actual state (read through a connector) vs desired state -> ordered steps.

The same code serves the dry-run preview in the onboarding form and the job itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from provisioning.connectors.base import AccessState, DirectoryUser, Resource
from provisioning.connectors.errors import NotFoundError
from provisioning.engine.desired import DesiredState

# Step actions (the values of provisioning.models.Step.Action).
CREATE_USER, LINK_USER, UPDATE_USER = "create_user", "link_user", "update_user"
ASSIGN_LICENSE, ADD_GROUP, ASSIGN_APP = "assign_license", "add_group", "assign_app"
ENABLE_USER = "enable_user"
REMOVE_LICENSE, REMOVE_GROUP, UNASSIGN_APP = "remove_license", "remove_group", "unassign_app"


@dataclass(frozen=True)
class PlannedStep:
    action: str
    target_name: str = ""
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """Something the technician must know or decide before the job may start."""

    kind: str  # no_seat | unknown_group | unknown_license | unknown_app | dynamic_group | conflict
    message: str
    subject: str = ""
    blocking: bool = True
    alternatives: tuple[str, ...] = ()  # e.g. SKUs with free seats


@dataclass
class Plan:
    connection_id: int
    kind: str
    steps: list[PlannedStep] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    user: DirectoryUser | None = None
    license_availability: dict[str, int] = field(default_factory=dict)  # SKU -> free seats

    @property
    def blocked(self) -> bool:
        return any(p.blocking for p in self.problems)


async def plan_onboarding(
    connector,
    connection_id: int,
    desired: DesiredState,
    remote_id: str = "",
    *,
    previous: dict | None = None,
    link_existing: bool = False,
) -> Plan:
    """Steps that make the directory match `desired` (nothing when nothing differs).

    `previous` (a mover): the groups, licences and apps the identity's old templates gave;
    those the new ones do not give are removed. `link_existing`: an account that already has
    the username is linked, whoever it seems to be (the tenant's setting)."""
    plan = Plan(connection_id, connector.kind)
    user = await _current_user(connector, desired.username, remote_id)
    access = AccessState()
    if user is None:
        plan.steps.append(PlannedStep(CREATE_USER, desired.username, _create_params(desired)))
    elif not remote_id and not (link_existing or _same_person(user, desired)):
        plan.problems.append(
            Problem(
                "conflict",
                f"{desired.username} already exists in this directory for someone else "
                f"({user.attributes.get('display_name') or user.username}). "
                "Choose another username, or allow linking existing accounts in the "
                "tenant's lifecycle settings.",
                desired.username,
            )
        )
        return plan
    else:
        plan.user = user
        if not remote_id:
            plan.steps.append(PlannedStep(LINK_USER, desired.username, {"user_id": user.id}))
        access = await connector.access_of(user.id)
        changed = _changed_attributes(connector.compared_attributes, user, desired)
        if changed:
            plan.steps.append(PlannedStep(UPDATE_USER, ", ".join(changed), {"attributes": changed}))
        if desired.enabled and not user.enabled:
            plan.steps.append(PlannedStep(ENABLE_USER, desired.username))
    if connector.supports_licences:
        await _plan_licenses(connector, plan, desired, access)
    await _plan_groups(connector, plan, desired, access)
    await _plan_apps(connector, plan, desired, access)
    if previous and user is not None:
        await _plan_removals(connector, plan, desired, previous, access)
    return plan


async def _current_user(connector, username: str, remote_id: str) -> DirectoryUser | None:
    if remote_id:
        try:
            return await connector.get_user(remote_id)
        except NotFoundError:
            pass
    return await connector.find_user(username)


def _same_person(user: DirectoryUser, desired: DesiredState) -> bool:
    """An existing account is ours to link when its name or e-mail says it is this person."""
    names = (user.attributes.get("first_name", ""), user.attributes.get("last_name", ""))
    same_name = tuple(n.casefold() for n in names) == (
        desired.first_name.casefold(),
        desired.last_name.casefold(),
    )
    email = (user.attributes.get("email") or "").casefold()
    return same_name or (bool(email) and email == desired.email.casefold())


def _create_params(desired: DesiredState) -> dict:
    return {
        "username": desired.username,
        "first_name": desired.first_name,
        "last_name": desired.last_name,
        "display_name": desired.display_name,
        "email": desired.email,
        "enabled": desired.enabled,
        "attributes": desired.attributes,
    }


def _changed_attributes(
    compared: tuple[str, ...], user: DirectoryUser, desired: DesiredState
) -> dict:
    wanted = {
        "first_name": desired.first_name,
        "last_name": desired.last_name,
        "display_name": desired.display_name,
        **desired.attributes,
    }
    return {
        name: value
        for name, value in wanted.items()
        if value and name in compared and user.attributes.get(name) != value
    }


def _find(resources: list[Resource], wanted: str) -> Resource | None:
    key = wanted.casefold()
    return next((r for r in resources if r.id == wanted or r.name.casefold() == key), None)


async def _plan_licenses(connector, plan: Plan, desired: DesiredState, access) -> None:
    skus = await connector.licenses()
    for sku in skus:
        plan.license_availability[sku.name] = sku.detail["total"] - sku.detail["consumed"]
    for wanted in desired.licenses:
        sku = _find(skus, wanted)
        if sku is None:
            known = ", ".join(s.name for s in skus) or "none"
            plan.problems.append(
                Problem(
                    "unknown_license", f"No licence {wanted} in this directory ({known}).", wanted
                )
            )
        elif sku.id not in access.licenses:
            if plan.license_availability[sku.name] <= 0:
                plan.problems.append(
                    Problem(
                        "no_seat",
                        f"No free seat of {sku.name}: choose another licence, go without, "
                        "or cancel.",
                        sku.name,
                        alternatives=tuple(
                            s.name for s in skus if plan.license_availability[s.name] > 0
                        ),
                    )
                )
            plan.steps.append(PlannedStep(ASSIGN_LICENSE, sku.name, {"sku_id": sku.id}))


async def _plan_groups(connector, plan: Plan, desired: DesiredState, access) -> None:
    groups = await connector.groups()
    for wanted in desired.groups:
        group = _find(groups, wanted)
        if group is None:
            plan.problems.append(
                Problem("unknown_group", f"No group “{wanted}” in this directory.", wanted)
            )
        elif group.detail.get("dynamic"):
            plan.problems.append(
                Problem(
                    "dynamic_group",
                    f"“{group.name}” has rule-based membership; the directory adds people itself.",
                    wanted,
                    blocking=False,
                )
            )
        elif group.id not in access.groups:
            plan.steps.append(PlannedStep(ADD_GROUP, group.name, {"group_id": group.id}))


async def _plan_apps(connector, plan: Plan, desired: DesiredState, access) -> None:
    apps = await connector.apps()
    for wanted in desired.apps:
        app = _find(apps, wanted)
        if app is None:
            plan.problems.append(
                Problem("unknown_app", f"No app “{wanted}” in this directory.", wanted)
            )
        elif app.id not in access.apps:
            plan.steps.append(PlannedStep(ASSIGN_APP, app.name, {"app_id": app.id}))


def _no_longer(previous: list[str], wanted: tuple[str, ...]) -> list[str]:
    keep = {w.casefold() for w in wanted}
    return [name for name in previous if name.casefold() not in keep]


async def _plan_removals(connector, plan: Plan, desired: DesiredState, previous, access) -> None:
    """A mover loses what only the old templates gave, and only if they still hold it."""
    kinds = [
        ("groups", desired.groups, connector.groups, access.groups, REMOVE_GROUP, "group_id"),
        ("apps", desired.apps, connector.apps, access.apps, UNASSIGN_APP, "app_id"),
    ]
    if connector.supports_licences:
        kinds.insert(
            0,
            (
                "licenses",
                desired.licenses,
                connector.licenses,
                access.licenses,
                REMOVE_LICENSE,
                "sku_id",
            ),
        )
    for key, wanted, read, held, action, param in kinds:
        gone = _no_longer(previous.get(key, []), wanted)
        if not gone:
            continue
        resources = await read()
        for name in gone:
            resource = _find(resources, name)
            if resource and resource.id in held and not resource.detail.get("dynamic"):
                plan.steps.append(PlannedStep(action, resource.name, {param: resource.id}))
