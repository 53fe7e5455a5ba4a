"""The planner: one directory account as it is (read through a connector) against the
person's desired state -> the ordered steps that make them equal. No steps: they are equal,
and the read was the verification.

The same code serves the previews in the forms and every job: a join, a move, a leave, a
restore, a grant, a delete or a periodic check differ only in the desired state.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from portal.countries import country_code_problem
from provisioning.connectors.app_roles import choose_user_role, split_entry
from provisioning.connectors.base import AccessState, DirectoryUser, Read, Resource, read_ahead
from provisioning.connectors.errors import NotFoundError, ReplicationLagError
from provisioning.engine import create_groups, elsewhere, group_sources, licences, roles
from provisioning.engine.desired import (
    ACCESS_KINDS,
    MANAGED,
    STRIP,
    DesiredState,
    names_stand_in,
)

# Step actions (the values of provisioning.models.Step.Action).
CREATE_USER, LINK_USER, UPDATE_USER = "create_user", "link_user", "update_user"
ASSIGN_LICENSE, ADD_GROUP, ASSIGN_APP = "assign_license", "add_group", "assign_app"
ENABLE_USER = "enable_user"
REMOVE_LICENSE, REMOVE_GROUP, UNASSIGN_APP = "remove_license", "remove_group", "unassign_app"
DISABLE_USER, REVOKE_SESSIONS, RESET_PASSWORD = "disable_user", "revoke_sessions", "reset_password"
DELETE_USER, PURGE_USER = "delete_user", "purge_user"
ONE_SHOTS = (RESET_PASSWORD, REVOKE_SESSIONS)  # actions, not state: a leave runs them once
NOT_MANAGED = "not managed"  # a read-back's account in a directory the person is not in
# Never cleared, whoever set them: the names a directory requires, and the usage location
# (Graph: "Not nullable"; a licence needs one). Other attributes the portal set are cleared
# when the desired state has none (`_changed_attributes`).
NEVER_CLEARED = frozenset({"first_name", "last_name", "display_name", "email", "usage_location"})

# kind -> (add action, remove action, param)
ACCESS_ACTIONS = {
    "licenses": (ASSIGN_LICENSE, REMOVE_LICENSE, "sku_id"),
    "groups": (ADD_GROUP, REMOVE_GROUP, "group_id"),
    "apps": (ASSIGN_APP, UNASSIGN_APP, "app_id"),
}


@dataclass(frozen=True)
class PlannedStep:
    action: str
    target_name: str = ""
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """Something the technician must know or decide before the job may start."""

    # no_seat | unknown_group | unknown_license | unknown_app | dynamic_group | conflict |
    # usage_location | too_long | ...
    kind: str
    message: str
    subject: str = ""
    blocking: bool = True
    alternatives: tuple[str, ...] = ()  # e.g. SKUs with free seats


@dataclass(frozen=True)
class ChecklistItem:
    """Work this plan needs that the directory's API cannot do (on-premises AD, Exchange
    Online PowerShell, the admin console): shown at dry run and kept on the job
    (`Job.checklist`), never a step, so it never holds up the read-back."""

    kind: str  # e.g. synced_user, mail_enabled_group, shared_mailbox, hide_from_gal
    item: str  # what to do, in the technician's words
    reason: str  # why the portal cannot do it here


@dataclass(frozen=True)
class AccountView:
    """What the portal knows of the account, read from the database before planning."""

    remote_id: str = ""
    managed: dict = field(default_factory=dict)  # DirectoryAccount.managed
    confirmed_gone: bool = False  # the stored id is gone past the replication window


@dataclass
class Plan:
    connection_id: int
    kind: str
    steps: list[PlannedStep] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    checklist: list[ChecklistItem] = field(default_factory=list)
    user: DirectoryUser | None = None
    access: AccessState = field(default_factory=AccessState)
    license_availability: dict[str, int] = field(default_factory=dict)  # SKU -> free seats
    missing: bool = False  # the stored id answered 404
    exceptions: dict = field(default_factory=dict)  # a leave strips access nothing explains
    left_alone: str = ""  # why the portal may not change this account (engine/guards.py)
    remote_id: str = ""  # the account left alone
    not_managed: bool = False  # a directory the person is not managed in: nothing read
    kept: list[str] = field(default_factory=list)  # what a leave leaves held, and why
    by_rule: list[str] = field(default_factory=list)  # held groups the directory fills itself

    @property
    def blocked(self) -> bool:
        return any(p.blocking for p in self.problems)

    def readback(self) -> dict:
        """What the read found, as the job page shows it."""
        if self.left_alone:
            return {"account": self.remote_id, "left_alone": self.left_alone}
        if self.not_managed:
            return {"account": NOT_MANAGED}
        if self.user is None:
            return {"account": "absent"}
        return {
            "account": self.user.id,
            "enabled": self.user.enabled,
            **{kind: len(getattr(self.access, kind)) for kind in ACCESS_KINDS},
            # Admin roles (active and eligible) and administrative units (engine/roles.py).
            "roles": None
            if self.access.roles_unread
            else len(self.access.roles) + len(self.access.admin_units),
            **({"kept": self.kept} if self.kept else {}),
            **({"by_rule": self.by_rule} if self.by_rule else {}),
        }


async def plan_account(
    connector,
    connection_id: int,
    desired: DesiredState,
    account: AccountView,
    *,
    link_existing: bool = False,
    one_shots: tuple[str, ...] = (),
) -> Plan:
    """Steps that make the account equal `desired` (none when it is); what another system
    owns (a synced user, a distribution list) set aside as checklist items (elsewhere.py).
    What it reads is read first, at once where the directory allows (`reads_for`). A
    directory the person is not managed in is neither read nor planned."""
    if not desired.managed_here:
        return not_managed(connection_id, connector.kind)
    try:
        connector = await read_ahead(connector, reads_for(connector, desired, account))
    except NotFoundError:  # the stored id: lag or gone, the engine waits out the replication
        return Plan(connection_id, connector.kind, missing=True)
    plan = await _plan_account(connector, connection_id, desired, account, link_existing, one_shots)
    await elsewhere.set_aside(
        connector, plan, plan.user.username if plan.user else desired.username
    )
    return plan


async def _plan_account(
    connector, connection_id: int, desired: DesiredState, account, link_existing, one_shots
) -> Plan:
    plan = Plan(connection_id, connector.kind)
    if account.remote_id and not account.confirmed_gone:
        try:
            plan.user, plan.access = await read_account(
                connector, account.remote_id, with_roles=desired.leaving
            )
        except NotFoundError:
            plan.missing = True  # lag or gone: the engine waits out the replication window
            return plan
    elif account.remote_id and not desired.present:
        if not connector.soft_deletes:
            return plan
        if await connector.in_deleted_items(account.remote_id):  # deleted, not purged yet
            plan.steps.append(PlannedStep(PURGE_USER, desired.username, _id(account)))
            return plan
        plan.user = await _restored(connector, account.remote_id)
        if plan.user is None:
            return plan  # neither a user nor a deleted item: the hard delete is read back
        plan.access = await connector.access_of(plan.user.id)
    elif desired.present:
        plan.user = await connector.find_user(desired.username)
        if plan.user is None:
            holder = await mail_holder(connector, desired)
            clash = await mail_groups.group_conflict(connector, desired) if not holder else None
            if clash is not None:  # a group is never the person: never linked
                plan.problems.append(clash)
                return plan
            if holder is not None and not (link_existing and same_name(holder, desired)):
                plan.problems.append(_mail_conflict(holder, desired))
                return plan
            plan.user = holder  # the person's own account under another username: linked
        if plan.user is not None:
            plan.access = await connector.access_of(plan.user.id)
    if not desired.present:
        _plan_absent(connector, plan, desired)
        return plan
    if not desired.leaving and (problem := _refused_value(connector, desired)):
        plan.problems.append(problem)  # the directory would refuse the create or update
        return plan
    if plan.user is None:
        if desired.leaving and account.confirmed_gone:
            plan.problems.append(_no_account(desired.username))  # gone: nothing left to take
            return plan
        if refused := await upn_domains.create_problem(connector, desired.username):
            plan.problems.append(refused)  # federated or unverified: Graph refuses the create
            if refused.blocking:
                return plan
        # A leaver whose join never got this far gets the account disabled and empty, as if
        # the join had run first: the end state never depends on the order jobs ran in.
        plan.steps.append(PlannedStep(CREATE_USER, desired.username, _create_params(desired)))
    elif not account.remote_id and not (link_existing or same_person(plan.user, desired)):
        plan.problems.append(_conflict(plan.user, desired))
        return plan
    else:
        if not account.remote_id:
            plan.steps.append(PlannedStep(LINK_USER, desired.username, {"user_id": plan.user.id}))
        await _plan_user(connector, plan, desired, one_shots, account.managed)
        await mailbox.plan_handover(connector, plan, desired)  # before the licences go
    await manager.plan_manager(connector, plan, desired)
    await _plan_access(connector, plan, desired, account)
    await create_groups.fold(connector, plan)
    return plan


async def read_account(
    connector, user_id: str, with_roles: bool = False
) -> tuple[DirectoryUser, AccessState]:
    """The user and what they hold, in one round trip where the directory allows it; admin
    roles only `with_roles` (a leave: nobody else has roles taken away)."""
    read_state = getattr(connector, "read_state", None)
    if read_state is not None and roles.has_roles(connector):
        return await read_state(user_id, with_roles=with_roles)
    if read_state is not None:
        return await read_state(user_id)
    return await connector.get_user(user_id), await connector.access_of(user_id)


def not_managed(connection_id: int, kind: str) -> Plan:
    """The plan of a directory the person is not managed in (engine/desired.py `manages`):
    nothing read, nothing to do, whoever holds their username there."""
    return Plan(connection_id, kind, not_managed=True)


def reads_for(connector, desired: DesiredState, account: AccountView) -> list[Read]:
    """What planning `desired` reads of the directory before anything else, named up front so
    that the connector may send it all at once and the engine pace it by its cost: the
    account and its access, else the joiner's lookups (username, e-mail address), with the
    manager and a leaver's handover where they apply."""
    if not desired.managed_here:
        return []
    if account.remote_id and not account.confirmed_gone:
        user_id = account.remote_id
        state = ("read_state", user_id)
        if hasattr(connector, "read_state") and roles.has_roles(connector):
            state += (desired.leaving,)
        extra = manager.reads_for(connector, desired, user_id) if desired.present else []
        extra += mailbox.reads_for(connector, desired, user_id) if desired.present else []
        return list(dict.fromkeys([state, *extra]))
    if account.remote_id or not desired.present:
        return []
    lookups = [("find_user", desired.username)]
    if desired.email:
        lookups += [
            (name, desired.email)
            for name in ("find_by_mail", "group_by_mail")
            if hasattr(connector, name)
        ]
    return lookups + manager.reads_for(connector, desired, "")


def _id(account: AccountView) -> dict:
    return {"user_id": account.remote_id}


async def _restored(connector, user_id: str) -> DirectoryUser | None:
    """The deleted user, live again: restored from deleted items meanwhile (by an admin), so
    a purge answered 404 and read as done while the account was back."""
    try:
        return await connector.get_user(user_id)
    except (NotFoundError, ReplicationLagError):  # deleted by us: a 404 is no lag here
        return None


def _plan_absent(connector, plan: Plan, desired: DesiredState) -> None:
    """Entra: soft delete, then purge from deleted items; Okta: deactivate, then delete."""
    if plan.user is None:
        return
    params = {"user_id": plan.user.id}
    plan.steps.append(PlannedStep(DELETE_USER, desired.username, params))
    if connector.soft_deletes:
        plan.steps.append(PlannedStep(PURGE_USER, desired.username, params))


async def _plan_user(
    connector, plan: Plan, desired: DesiredState, one_shots, managed: dict
) -> None:
    user = plan.user
    frozen = _frozen(connector, user)
    if RESET_PASSWORD in one_shots and connector.sets_passwords:
        _plan_reset(plan, frozen, desired)
    changed = _changed_attributes(
        connector.compared_attributes, user, desired, managed.get("attributes", ())
    )
    if changed and not (desired.enabled and frozen):
        plan.steps.append(PlannedStep(UPDATE_USER, update_label(changed), {"attributes": changed}))
    if desired.enabled and not user.enabled:
        plan.steps.append(PlannedStep(ENABLE_USER, desired.username))
    elif desired.enabled is False:
        await _plan_disable(connector, plan, desired, managed.get("apps", []))
    if REVOKE_SESSIONS in one_shots and connector.revokes_sessions:
        plan.steps.append(PlannedStep(REVOKE_SESSIONS, user.username))


async def _plan_disable(connector, plan: Plan, desired: DesiredState, managed_apps) -> None:
    """Okta's deactivate drops every app assignment, those the portal gave (`managed_apps`)
    with the rest."""
    user, modes = plan.user, connector.disable_modes
    mode = (desired.disable_mode if desired.disable_mode in modes else modes[0]) if modes else ""
    deactivate = mode == "deactivate"
    if not (user.enabled or (deactivate and user.attributes.get("status") != "DEPROVISIONED")):
        return
    params = {"mode": mode} if mode else {}
    label = user.username
    if deactivate:
        apps = await connector.apps()
        dropped = [_ref(apps, app_id) for app_id in sorted(plan.access.apps)]
        params["drops_apps"] = dropped
        label += " (deactivate: drops app assignments)"
        _note_exceptions(plan, desired, "apps", dropped, managed_apps)
    plan.steps.append(PlannedStep(DISABLE_USER, label, params))


def _plan_reset(plan: Plan, frozen: bool, desired: DesiredState) -> None:
    """A reset of an account the directory keeps as it is (deactivated before this leave,
    e.g. by a move asked with it) is refused (Okta: the same update call, 404): it cannot
    sign in, and the technician is told the password was left. The step carries the
    account's username and names, as read and as desired: the random password holds no
    part of them (steps.random_password), which the directory's policy would refuse."""
    if not frozen:
        names = {"names": _names_of(plan.user, desired)}
        plan.steps.append(PlannedStep(RESET_PASSWORD, "random, never shown or stored", names))
        return
    status = plan.user.attributes.get("status")
    message = f"The account is {status}: it cannot sign in, and its password cannot be reset."
    plan.problems.append(Problem("password_kept", message, plan.user.username, blocking=False))


def _names_of(user: DirectoryUser, desired: DesiredState) -> list[str]:
    read = (user.attributes.get("first_name"), user.attributes.get("last_name"))
    names = (user.username, *read, desired.username, desired.first_name, desired.last_name)
    return sorted({name for name in names if name})


def _frozen(connector, user: DirectoryUser) -> bool:
    """The directory refuses a profile update in the account's status (Okta: DEPROVISIONED):
    the enable goes first and the next round, reading the account enabled, writes it."""
    return user.attributes.get("status") in connector.profile_frozen_in


def same_person(user: DirectoryUser, desired: DesiredState) -> bool:
    """An existing account is ours to link when its name or e-mail says it is this person."""
    email = (user.attributes.get("email") or "").casefold()
    return same_name(user, desired) or (bool(email) and email == desired.email.casefold())


def same_name(user: DirectoryUser, desired: DesiredState) -> bool:
    names = (user.attributes.get("first_name", ""), user.attributes.get("last_name", ""))
    return tuple(n.casefold() for n in names) == (
        desired.first_name.casefold(),
        desired.last_name.casefold(),
    )


async def mail_holder(connector, desired: DesiredState) -> DirectoryUser | None:
    """The account already holding the joiner's e-mail address, where the directory keeps
    addresses unique (Entra: proxyAddresses) and a create would be refused over it."""
    find_by_mail = getattr(connector, "find_by_mail", None)
    if find_by_mail is None or not desired.email:
        return None
    return await find_by_mail(desired.email)


def _conflict(user: DirectoryUser, desired: DesiredState) -> Problem:
    return Problem(
        "conflict",
        f"{desired.username} already exists in this directory for someone else "
        f"({user.attributes.get('display_name') or user.username}). "
        "Choose another username, or allow linking existing accounts in the "
        "tenant's lifecycle settings.",
        desired.username,
    )


def _mail_conflict(holder: DirectoryUser, desired: DesiredState) -> Problem:
    """The holder's e-mail is the clash itself, so only a name says it is this person."""
    who = f"{holder.attributes.get('display_name') or holder.username} ({holder.username})"
    if same_name(holder, desired):
        advice = (
            "It looks like this person's own account: allow linking existing accounts in the "
            "tenant's lifecycle settings to link it, or choose another e-mail address."
        )
    else:
        advice = "Choose another e-mail address, or free it on that account first."
    return Problem(
        "conflict",
        f"{desired.email} is already an e-mail address of {who} in this directory. {advice}",
        desired.email,
    )


def _usage_location_problem(connector, desired: DesiredState) -> Problem | None:
    """A usage location stored before the forms took only ISO 3166 codes (UK for GB), for a
    directory that writes it (Graph's usageLocation, Okta's countryCode: both refuse it)."""
    if "usage_location" not in getattr(connector, "compared_attributes", ()):
        return None
    code = str(desired.attributes.get("usage_location") or "").upper()
    reason = country_code_problem(code) if code else None
    if reason is None:
        return None
    return Problem(
        "usage_location",
        f"The usage location {reason} The directory refuses it; correct it on the person, "
        "their role template or the tenant.",
        code,
    )


def _refused_value(connector, desired: DesiredState) -> Problem | None:
    """A value the directory would refuse: no country, or longer than it takes."""
    return _usage_location_problem(connector, desired) or value_bounds.too_long_problem(
        connector, desired
    )


def _no_account(username: str) -> Problem:
    return Problem(
        "no_account",
        f"No account {username} in this directory: nothing to do there.",
        username,
        blocking=False,
    )


def _create_params(desired: DesiredState) -> dict:
    return {
        "username": desired.username,
        "first_name": desired.first_name,
        "last_name": desired.last_name,
        "display_name": desired.display_name,
        "email": desired.email,
        "enabled": desired.enabled is not False,
        "attributes": desired.attributes,
    }


def _changed_attributes(
    compared: tuple[str, ...], user: DirectoryUser, desired: DesiredState, set_here=()
) -> dict:
    """What differs: the wanted values, and `None` (clear it) for an attribute the desired
    state has none of that the portal set on this account (`set_here`, the account's
    `managed["attributes"]`) and the directory still holds. One the portal never set (a
    taken-over account's own department) is the account's, and stays."""
    if desired.leaving:
        return {}
    wanted = {
        "first_name": desired.first_name,
        "last_name": desired.last_name,
        "display_name": desired.display_name,
        **desired.attributes,
    }
    changed = {
        name: value
        for name, value in wanted.items()
        if value
        and name in compared
        and user.attributes.get(name) != value
        and not names_stand_in(name, value, user.attributes.get(name), desired)
    }
    cleared = {
        name: None
        for name in set_here
        if name in compared
        and name not in NEVER_CLEARED
        and not wanted.get(name)
        and user.attributes.get(name) not in (None, "")
    }
    return changed | cleared


def update_label(changed: dict) -> str:
    """An update step's name: the attributes it sets, and "clear <name>" for one it clears."""
    return ", ".join(
        name if value is not None else f"clear {name}" for name, value in changed.items()
    )


def find(resources: list[Resource], wanted: str) -> Resource | None:
    key = wanted.casefold()
    return next((r for r in resources if r.id == wanted or r.name.casefold() == key), None)


def _ref(resources: list[Resource], resource_id: str) -> dict:
    found = next((r for r in resources if r.id == resource_id), None)
    return {"id": resource_id, "name": found.name if found else resource_id}


async def _catalog(connector, kind: str) -> list[Resource]:
    return await getattr(connector, kind)()


async def _read_stale_catalogues(connector) -> None:
    """The catalogues the plan is about to read that the connector no longer holds (a
    tenant's first plan in a worker process), read together: one round trip of the
    directory's latency instead of one each. Only where the connector tells which
    (`catalogues_to_read`: Entra; Okta's groups read its apps first)."""
    to_read = getattr(connector, "catalogues_to_read", None)
    kinds = to_read(ACCESS_KINDS) if to_read is not None else []
    if len(kinds) < 2:
        return
    read = await asyncio.gather(*(_catalog(connector, k) for k in kinds), return_exceptions=True)
    for outcome in read:
        if isinstance(outcome, BaseException):
            raise outcome


async def _plan_access(connector, plan: Plan, desired: DesiredState, account) -> None:
    await _read_stale_catalogues(connector)
    for kind in ACCESS_KINDS:
        if kind == "licenses" and not connector.supports_licences:
            continue
        resources = await _catalog(connector, kind)
        if kind == "licenses":
            _note_seats(plan, resources)
        wanted_ids = _plan_adds(plan, kind, resources, desired.wanted(kind))
        if plan.user is None:
            continue  # a new account holds nothing to take away
        mode = desired.removal.get(kind, MANAGED)
        if mode == STRIP:
            _plan_strip(plan, kind, resources, wanted_ids, desired, account.managed.get(kind, []))
        elif mode == MANAGED:
            _plan_unmanaged(plan, kind, resources, wanted_ids, account.managed.get(kind, []))
        if kind == "groups" and mode != STRIP:
            _note_filled_by_directory(plan, resources, wanted_ids)
    if connector.supports_licences:
        await licences.settle(connector, plan)  # inherited ones stay; a swap is one step
    await roles.plan_roles(connector, plan, desired)  # a leaver's admin roles and units go
    # Imported groups' members are their source's; a group's apps go with the group.
    await group_sources.settle(
        connector, plan, plan.user.username if plan.user else desired.username
    )
    _leave_to_deactivation(plan)
    _name_assignments(plan)


def _name_assignments(plan: Plan) -> None:
    """Each app removal carries the assignments the plan's read found (where the directory
    names them): the directory deletes those without listing them again. One made since
    is left to the read-back, which sees the app still held, as it would after a listing."""
    by_app: dict[str, list[str]] = {}
    for app_id, assignment_id in plan.access.app_assignments:
        by_app.setdefault(app_id, []).append(assignment_id)
    for step in plan.steps:
        if step.action == UNASSIGN_APP and step.params.get("app_id") in by_app:
            step.params["assignment_ids"] = by_app[step.params["app_id"]]


def _leave_to_deactivation(plan: Plan) -> None:
    """No unassign step for an app the plan's deactivation drops anyway. Okta: "Deactivating
    a user is a destructive operation. The user is deprovisioned from all assigned apps"
    (developer.okta.com, Management API, User Lifecycle, "Deactivate a user"). Each would be
    a second call, answered 404, and a second line of the dry run for one removal. The
    read-back still checks that no app is left: a pass that finds one held after the
    deactivation plans its unassign then (that pass has no deactivate step)."""
    dropped = {
        app["id"]
        for step in plan.steps
        if step.action == DISABLE_USER
        for app in step.params.get("drops_apps", [])
    }
    if dropped:
        plan.steps[:] = [
            s
            for s in plan.steps
            if not (s.action == UNASSIGN_APP and s.params["app_id"] in dropped)
        ]


def _note_seats(plan: Plan, skus: list[Resource]) -> None:
    for sku in skus:
        plan.license_availability[sku.name] = sku.detail["total"] - sku.detail["consumed"]


def _plan_adds(plan: Plan, kind: str, resources: list[Resource], wanted) -> set[str]:
    """Add steps for what is wanted and not held; the ids of everything wanted."""
    add, _, param = ACCESS_ACTIONS[kind]
    held = getattr(plan.access, kind)
    ids = set()
    for name in wanted:
        resource, role = _entry(kind, resources, name)
        if resource is None:
            plan.problems.append(_unknown(kind, name, resources))
            continue
        if resource.id in ids:
            continue  # named twice (a template's name and a grant's id, say)
        ids.add(resource.id)
        if resource.id in held:
            continue
        if resource.detail.get("dynamic"):
            plan.problems.append(_dynamic(resource))
            continue
        if resource.detail.get("builtin"):
            # Okta's Everyone: every user is in it, a new one from its create; an add of
            # its members is refused (403), and would fail a join whose account holds it.
            continue
        if kind == "licenses" and plan.license_availability.get(resource.name, 1) <= 0:
            plan.problems.append(_no_seat(resource, resources, plan))
        params = {param: resource.id}
        if kind == "apps":  # which app role: named in the template, else by member type
            choice = choose_user_role(resource, role)
            if choice.problem:
                plan.problems.append(
                    Problem("app_role", choice.problem, resource.name, alternatives=choice.options)
                )
                continue
            params |= choice.params
        plan.steps.append(PlannedStep(add, resource.name, params))
    return ids


def _entry(kind: str, resources: list[Resource], name: str) -> tuple[Resource | None, str]:
    """The resource a template entry names, and the app role it names ("Salesforce / Admin")."""
    found = find(resources, name)
    if found is not None or kind != "apps":
        return found, ""
    app, role = split_entry(name)
    return (find(resources, app), role) if role else (None, "")


def _plan_strip(plan: Plan, kind, resources, wanted_ids: set[str], desired, managed) -> None:
    """A leaver: everything held goes, but the kept groups and what the directory manages.
    A kept group the portal gave that the person no longer has (a move asked with the leave
    had not taken it away yet) goes too, as it would had the move run first."""
    _, remove, param = ACCESS_ACTIONS[kind]
    kept = {k.casefold() for k in desired.keep_groups} if kind == "groups" else set()
    moved_away = {m.get("id") for m in managed} - _explained_ids(desired, kind, resources)
    removed = []
    for resource_id in sorted(getattr(plan.access, kind) - wanted_ids):
        ref = _ref(resources, resource_id)
        if (ref["name"].casefold() in kept or resource_id in kept) and (
            resource_id not in moved_away
        ):
            plan.kept.append(f"“{ref['name']}”: kept, as the offboarding asked.")
            continue
        resource = find(resources, resource_id)
        if resource and (resource.detail.get("dynamic") or resource.detail.get("builtin")):
            plan.problems.append(_stays(resource))
            plan.kept.append(plan.problems[-1].message)
            continue
        plan.steps.append(PlannedStep(remove, ref["name"], {param: resource_id}))
        removed.append(ref)
    _note_exceptions(plan, desired, kind, removed, managed)


def _explained_ids(desired: DesiredState, kind: str, resources) -> set[str]:
    """The ids of what the person would hold were they active (names or ids, any case)."""
    explained = {e.casefold() for e in desired.explained.get(kind, ())}
    return {
        r.id for r in resources if r.id.casefold() in explained or r.name.casefold() in explained
    }


def _plan_unmanaged(plan: Plan, kind, resources, wanted_ids: set[str], managed: list) -> None:
    """A mover or an ended grant: what the portal gave and no longer wants, if still held."""
    _, remove, param = ACCESS_ACTIONS[kind]
    held = getattr(plan.access, kind)
    for ref in managed:
        resource = find(resources, ref.get("id") or ref.get("name", ""))
        if resource is None or resource.id in wanted_ids or resource.id not in held:
            continue
        if not resource.detail.get("dynamic"):
            plan.steps.append(PlannedStep(remove, resource.name, {param: resource.id}))


def _note_filled_by_directory(plan: Plan, groups: list[Resource], wanted_ids: set[str]) -> None:
    """Held groups the plan did not list and the directory fills itself (a rule, or built
    in): the read-back counts them, so it says where they came from."""
    for group_id in sorted(plan.access.groups - wanted_ids):
        group = find(groups, group_id)
        if group and group.detail.get("dynamic"):
            plan.by_rule.append(rule_based_note(group.name) + ", not the plan.")
        elif group and group.detail.get("builtin"):
            plan.by_rule.append(built_in_note(group.name))


def built_in_note(group_name: str) -> str:
    """Why a person holds a group the directory puts every user in (Okta's Everyone)."""
    return f"“{group_name}” is built in: the directory holds everyone in it."


def rule_based_note(group_name: str) -> str:
    """Why a person holds a group with rule-based membership (an Entra dynamic group)."""
    return f"“{group_name}” is rule-based: the directory added the person by its rule"


def _note_exceptions(
    plan: Plan, desired: DesiredState, kind: str, removed: list[dict], managed: list[dict]
) -> None:
    """Access a leave takes that no template or grant explains: a restore puts it back. What
    the portal gave (`managed`) is no exception even when no template explains it now: a
    move asked with the leave had not taken it away yet."""
    explained = {e.casefold() for e in desired.explained.get(kind, ())}
    given = {m.get("id") for m in managed}
    unexplained = [
        ref
        for ref in removed
        if ref["id"] not in given
        and ref["id"].casefold() not in explained
        and ref["name"].casefold() not in explained
    ]
    if unexplained:
        known = {r["id"] for r in plan.exceptions.get(kind, [])}
        plan.exceptions.setdefault(kind, []).extend(r for r in unexplained if r["id"] not in known)


def _unknown(kind: str, name: str, resources: list[Resource]) -> Problem:
    if kind == "licenses":
        known = ", ".join(s.name for s in resources) or "none"
        return Problem("unknown_license", f"No licence {name} in this directory ({known}).", name)
    noun = {"groups": "group", "apps": "app"}[kind]
    return Problem(f"unknown_{noun}", f"No {noun} “{name}” in this directory.", name)


def _dynamic(group: Resource) -> Problem:
    return Problem(
        "dynamic_group",
        f"“{group.name}” has rule-based membership; the directory adds people itself.",
        group.name,
        blocking=False,
    )


def _stays(group: Resource) -> Problem:
    why = "rule-based" if group.detail.get("dynamic") else "built in"
    return Problem(
        "kept_group",
        f"“{group.name}” is {why}: the directory manages its members, so it stays.",
        group.name,
        blocking=False,
    )


def _no_seat(sku: Resource, skus: list[Resource], plan: Plan) -> Problem:
    return Problem(
        "no_seat",
        f"No free seat of {sku.name}: choose another licence, go without, or cancel.",
        sku.name,
        alternatives=tuple(s.name for s in skus if plan.license_availability[s.name] > 0),
    )


async def plan_onboarding(
    connector, connection_id: int, desired: DesiredState, link_existing: bool = False
) -> Plan:
    """The onboarding form's preview: a new person, no account of theirs known yet."""
    return await plan_account(
        connector, connection_id, desired, AccountView(), link_existing=link_existing
    )


# The manager and a leaver's handover plan through this module's types (a cycle by design:
# they need PlannedStep and Problem, and plan_account calls them).
from provisioning.engine import (  # noqa: E402
    mail_groups,
    mailbox,
    manager,
    upn_domains,
    value_bounds,
)
