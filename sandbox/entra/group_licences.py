"""Group-based licensing: `POST /groups/{id}/assignLicense`, and what members inherit.

A user's licences live in two Graph properties, both kept here:
- `licenseAssignmentStates`: one entry per assignment, direct (`assignedByGroup` null) or
  inherited from a group (`assignedByGroup` = the group's id), each with `state` Active or
  Error and, for an error, `error` (CountViolation, MutuallyExclusiveViolation, ...)
  (licenseAssignmentState resource, Graph v1.0);
- `assignedLicenses`: what the user holds, one entry per SKU whichever way it came.

Members inherit at once (Entra takes minutes); an assignment that cannot be made (no seat,
conflicting service plans) is recorded on the user in the Error state and the user does not
hold that SKU; the group's other SKUs are not assigned either ("If Microsoft Entra ID can't
assign one of the products because of business logic problems, it won't assign the other
licenses in the group either", licensing-groups-resolve-problems.md). Leaving the group
takes the inherited licence away.

The model calls `follow_membership` through its MEMBERSHIP_HOOKS, registered on import.
"""

from __future__ import annotations

from sandbox.entra.errors import bad_request
from sandbox.entra.groups import find_group, group_view
from sandbox.entra.model import (
    MEMBERSHIP_HOOKS,
    STATES,
    EntraTenant,
    Group,
    User,
    direct_of,
    now_iso,
)
from sandbox.entra.odata import check_guid_literal
from sandbox.entra.router import GROUP_WRITE, GraphRequest, GraphResponse, router
from sandbox.entra.service_plans import ServicePlan, clash, plans_of

LICENCE_WRITE = (*GROUP_WRITE, "LicenseAssignment.ReadWrite.All")


def inherited_of(user: User) -> dict[str, list[str]]:
    """SKU id -> the ids of the groups it is (actively) inherited from."""
    found: dict[str, list[str]] = {}
    for state in user.props.get(STATES) or []:
        if state.get("assignedByGroup") and state.get("state") == "Active":
            found.setdefault(state["skuId"], []).append(state["assignedByGroup"])
    return found


def _held(user: User) -> list[dict]:
    return list(user.props.get("assignedLicenses") or [])


def enabled_plans(tenant: EntraTenant, assignments: dict[str, list[str]]) -> dict[str, ServicePlan]:
    """Plan id -> plan, for what these assignments (SKU id -> disabled plans) switch on."""
    plans: dict[str, ServicePlan] = {}
    for sku_id, disabled in assignments.items():
        sku = tenant.skus.get(sku_id)
        if sku is None:
            continue
        for plan in plans_of(sku.sku_part_number):
            if plan.id not in disabled:
                plans[plan.id] = plan
    return plans


def _state(sku_id: str, group_id: str | None, disabled: list[str], error: str | None) -> dict:
    return {
        "assignedByGroup": group_id,
        "disabledPlans": list(disabled),
        "error": error or "None",
        "lastUpdatedDateTime": now_iso(),
        "skuId": sku_id,
        "state": "Error" if error else "Active",
    }


def _group_error(
    tenant: EntraTenant, user: User, group: Group, active: dict[str, list[str]]
) -> str | None:
    """Why this group's licences cannot be given to the user, None when they can."""
    held = {lic["skuId"] for lic in _held(user)}
    wanted = {lic["skuId"]: list(lic.get("disabledPlans") or []) for lic in _licences(group)}
    for sku_id in wanted:
        sku = tenant.skus.get(sku_id)
        if sku is None:
            return "Other"
        if sku_id not in held and sku_id not in active and tenant.consumed(sku_id) >= sku.enabled:
            return "CountViolation"
    if clash(enabled_plans(tenant, {**active, **wanted})) is not None:
        return "MutuallyExclusiveViolation"
    return None


def _licences(group: Group) -> list[dict]:
    return list(group.props.get("assignedLicenses") or [])


def states_for(tenant: EntraTenant, user: User, direct: dict[str, list[str]]) -> list[dict]:
    """The user's assignment states: the direct ones, then each licensed group's."""
    old = {(s["skuId"], s.get("assignedByGroup")): s for s in user.props.get(STATES) or []}
    states = [_kept(old, _state(sku, None, disabled, None)) for sku, disabled in direct.items()]
    active = dict(direct)
    for group in tenant.groups_of(user):
        if not _licences(group):
            continue
        error = _group_error(tenant, user, group, active)
        for lic in _licences(group):
            disabled = list(lic.get("disabledPlans") or [])
            states.append(_kept(old, _state(lic["skuId"], group.id, disabled, error)))
            if error is None:
                # Held twice: only the plans every assignment disables stay off.
                before = active.get(lic["skuId"])
                active[lic["skuId"]] = (
                    disabled if before is None else sorted(set(before) & set(disabled))
                )
    return states


def _kept(old: dict, new: dict) -> dict:
    """The earlier state when nothing but the time would change (delta stays quiet)."""
    before = old.get((new["skuId"], new["assignedByGroup"]))
    if before is not None and {**before, "lastUpdatedDateTime": ""} == {
        **new,
        "lastUpdatedDateTime": "",
    }:
        return before
    return new


def assigned_from(states: list[dict]) -> list[dict]:
    """`assignedLicenses` from the states: each active SKU once."""
    held: dict[str, list[str]] = {}
    for state in states:
        if state["state"] != "Active":
            continue
        sku, disabled = state["skuId"], state["disabledPlans"]
        held[sku] = disabled if sku not in held else sorted(set(held[sku]) & set(disabled))
    return [{"skuId": sku, "disabledPlans": disabled} for sku, disabled in held.items()]


def apply(tenant: EntraTenant, user: User, direct: dict[str, list[str]]) -> bool:
    """Set the user's direct assignments and recompute what they inherit; True if changed."""
    states = states_for(tenant, user, direct)
    assigned = assigned_from(states)
    if states == user.props.get(STATES) and assigned == _held(user):
        return False
    user.props[STATES] = states
    user.props["assignedLicenses"] = assigned
    return True


def follow_membership(tenant: EntraTenant, group: Group, user_id: str) -> None:
    """A member joined or left a licensed group: what the user inherits follows."""
    user = tenant.users.get(user_id)
    if not _licences(group) or user is None or user.deleted_at is not None:
        return
    if apply(tenant, user, direct_of(user)):
        _record(tenant, user)


def _record(tenant: EntraTenant, user: User) -> None:
    """A licence change, for delta (without re-running membership rules, which called us)."""
    user.seq = tenant.next_seq()
    user.changed["assignedLicenses"] = tenant.seq
    tenant.changes.user_changed(tenant.seq, user.id)


def parse_assignments(tenant: EntraTenant, items: object, field: str) -> dict[str, list[str]]:
    """`addLicenses`: SKU id -> disabled plan ids, each checked against the SKU's plans.

    A SKU given twice is 400 for the whole call (user-assignlicense.md: addLicenses is a
    collection of assignedLicense, one per licence "to assign or update"; the sandbox kept the
    last of the two, with its disabledPlans, and said 200). Graph's text for it is not
    published: the sandbox gives its invalid-value text."""
    if not isinstance(items, list):
        raise bad_request(f"Invalid value specified for property '{field}'.")
    found: dict[str, list[str]] = {}
    for item in items:
        sku_id = item.get("skuId") if isinstance(item, dict) else None
        disabled = (item.get("disabledPlans") or []) if isinstance(item, dict) else None
        if not isinstance(sku_id, str) or not isinstance(disabled, list) or sku_id in found:
            raise bad_request(f"Invalid value specified for property '{field}'.")
        sku = tenant.skus.get(sku_id)
        if sku is None:
            raise bad_request(f"License {sku_id} does not correspond to a valid company License.")
        known = {plan.id for plan in plans_of(sku.sku_part_number)}
        for plan_id in disabled:
            if plan_id not in known:
                raise bad_request(f"Service plan {plan_id} does not belong to license {sku_id}.")
        found[sku_id] = [str(p) for p in disabled]
    return found


ASSIGN_LICENSE_PARAMETERS = ("addLicenses", "removeLicenses")


def require_both(data: dict) -> None:
    """assignLicense takes addLicenses and removeLicenses, both required (user-assignlicense.md:
    "addLicenses ... Required", "removeLicenses ... Required"; an empty list where there is
    nothing to add or remove). Without one Graph refuses the whole call, in these words
    (msgraph-sdk-powershell#3231, #3361; msgraph-sdk-go#163 for removeLicenses)."""
    for name in data:
        # The missing-parameters text above is the OData parameter reader's; the same reader
        # refuses a name the operation does not declare (Microsoft.OData.Core,
        # ODataParameterReader), before it looks for missing ones. The sandbox ignored it, so
        # a `disabledPlans` beside the lists (not inside an assignedLicense) passed here.
        if name not in ASSIGN_LICENSE_PARAMETERS:
            raise bad_request(
                f"The parameter '{name}' in the request payload is not a valid parameter for "
                "the operation 'assignLicense'."
            )
    _read_guids(data)
    missing = [name for name in ASSIGN_LICENSE_PARAMETERS if data.get(name) is None]
    if missing:
        raise bad_request(
            "One or more parameters of the operation 'assignLicense' are missing from the "
            f"request payload. The missing parameters are: {', '.join(missing)}."
        )


def _read_guids(data: dict) -> None:
    """skuId, disabledPlans and removeLicenses are Guids (user-assignlicense.md), read as
    such before the directory looks for the licence (odata.check_guid_literal): a part number
    given for a SKU id is no unknown licence. The sandbox said "License SPE_E3 does not
    correspond to a valid company License.", the answer for a GUID that names none."""
    adds = data.get("addLicenses") if isinstance(data.get("addLicenses"), list) else []
    removes = data.get("removeLicenses") if isinstance(data.get("removeLicenses"), list) else []
    values = list(removes)
    for item in adds:
        if isinstance(item, dict):
            values.append(item.get("skuId"))
            plans = item.get("disabledPlans")
            values.extend(plans if isinstance(plans, list) else [])
    for value in values:
        check_guid_literal(value)


def parse_removals(tenant: EntraTenant, items: object) -> list[str]:
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise bad_request("Invalid value specified for property 'removeLicenses'.")
    for sku_id in items:
        if sku_id not in tenant.skus:
            raise bad_request(f"License {sku_id} does not correspond to a valid company License.")
    return list(items)


@router.add("POST", "/groups/{id}/assignLicense", LICENCE_WRITE)
def assign_group_license(req: GraphRequest) -> GraphResponse:
    group = find_group(req, req.params["id"])
    data = req.json()
    require_both(data)
    tenant = req.tenant
    adds = parse_assignments(tenant, data["addLicenses"], "addLicenses")
    removes = parse_removals(tenant, data["removeLicenses"])
    current = {lic["skuId"]: lic for lic in _licences(group)}
    for sku_id in removes:
        if sku_id not in current:
            raise bad_request("Group does not have a corresponding license.")
    for sku_id in removes:
        current.pop(sku_id)
    for sku_id, disabled in adds.items():
        current[sku_id] = {"skuId": sku_id, "disabledPlans": disabled}
    group.props["assignedLicenses"] = list(current.values())
    tenant.touch_group(group, "assignedLicenses")
    # Its members, and whoever still shows an assignment from it (a licence it gave up).
    touched = {u.id: u for u in tenant.group_members(group)}
    for user in tenant.live_users():
        if any(s.get("assignedByGroup") == group.id for s in user.props.get(STATES) or []):
            touched[user.id] = user
    for user in touched.values():
        if apply(tenant, user, direct_of(user)):
            _record(tenant, user)
    body = group_view(group, {})
    return GraphResponse(
        202, {"@odata.context": f"{req.base_url}/$metadata#groups/$entity", **body}
    )


MEMBERSHIP_HOOKS.append(follow_membership)
