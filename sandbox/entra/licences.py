"""Graph licences: subscribedSkus (with their service plans), users/{id}/assignLicense and
users/{id}/licenseDetails. Group-based licensing is in group_licences.py.

assignLicense applies removeLicenses and addLicenses together or not at all (user-assignlicense.md;
licensing-groups-change-licenses.md: "the license assignment removals and new assignments are
made simultaneously ... or see license conflicts between plans"), so a swap between SKUs whose
service plans exclude each other succeeds in one call and fails as two.
"""

from __future__ import annotations

from sandbox.entra.errors import GraphError, bad_request, not_found
from sandbox.entra.group_licences import (
    apply,
    direct_of,
    enabled_plans,
    inherited_of,
    parse_assignments,
    parse_removals,
    require_both,
)
from sandbox.entra.model import EntraTenant, Sku
from sandbox.entra.router import (
    ORG_READ,
    USER_READ,
    USER_WRITE,
    GraphRequest,
    GraphResponse,
    router,
)
from sandbox.entra.service_plans import ServicePlan, clash, plan_view, plans_of
from sandbox.entra.users import find_user, view

NO_SUCH_LICENCE = "User does not have a corresponding license."


def sku_view(tenant: EntraTenant, sku: Sku) -> dict:
    return {
        "id": f"{tenant.id}_{sku.sku_id}",
        "accountId": tenant.id,
        "accountName": tenant.display_name,
        "appliesTo": "User",
        "capabilityStatus": "Enabled",
        "consumedUnits": tenant.consumed(sku.sku_id),
        "skuId": sku.sku_id,
        "skuPartNumber": sku.sku_part_number,
        "prepaidUnits": {"enabled": sku.enabled, "suspended": 0, "warning": 0, "lockedOut": 0},
        "servicePlans": [plan_view(p) for p in plans_of(sku.sku_part_number)],
    }


@router.add("GET", "/subscribedSkus", ORG_READ)
def list_skus(req: GraphRequest) -> GraphResponse:
    items = [sku_view(req.tenant, s) for s in req.tenant.skus.values()]
    return GraphResponse(
        200, {"@odata.context": f"{req.base_url}/$metadata#subscribedSkus", "value": items}
    )


@router.add("GET", "/subscribedSkus/{id}", ORG_READ)
def get_sku(req: GraphRequest) -> GraphResponse:
    sku_id = req.params["id"].rsplit("_", 1)[-1]
    sku = req.tenant.skus.get(sku_id)
    if sku is None:
        raise not_found(req.params["id"])
    return GraphResponse(200, sku_view(req.tenant, sku))


INHERITED = (
    "User license is inherited from a group membership and it cannot be removed directly "
    "from the user."
)


def _conflict(a: ServicePlan, b: ServicePlan) -> GraphError:
    return bad_request(
        f"License assignment failed because service plans {a.id} ({a.name}) and "
        f"{b.id} ({b.name}) are mutually exclusive."
    )


@router.add("POST", "/users/{id}/assignLicense", USER_WRITE)
def assign_license(req: GraphRequest) -> GraphResponse:
    """All or nothing: every check passes before anything changes."""
    user = find_user(req, req.params["id"])
    data = req.json()
    require_both(data)
    tenant = req.tenant
    adds = parse_assignments(tenant, data["addLicenses"], "addLicenses")
    removes = parse_removals(tenant, data["removeLicenses"])
    direct = direct_of(user)
    inherited = inherited_of(user)
    for sku_id in removes:
        if sku_id not in direct:
            raise bad_request(INHERITED if sku_id in inherited else NO_SUCH_LICENCE)
    if adds and not user.props.get("usageLocation"):
        raise bad_request("License assignment cannot be done for user with invalid usage location.")
    held = {lic["skuId"] for lic in user.props.get("assignedLicenses") or []}
    for sku_id in adds:
        sku = tenant.skus[sku_id]
        if sku_id not in held and tenant.consumed(sku_id) >= sku.enabled:
            raise bad_request(f"Subscription {sku_id} does not have any available licenses.")
    wanted = {k: v for k, v in direct.items() if k not in removes} | adds
    found = clash(enabled_plans(tenant, {**_inherited_disabled(user), **wanted}))
    if found is not None:
        raise _conflict(*found)
    if apply(tenant, user, wanted):
        tenant.touch(user, "assignedLicenses")
    return GraphResponse(
        200, {"@odata.context": f"{req.base_url}/$metadata#users/$entity", **view(user, {})}
    )


def _inherited_disabled(user) -> dict[str, list[str]]:
    """SKU id -> disabled plans, for the licences the user inherits and holds now."""
    inherited = inherited_of(user)
    return {
        lic["skuId"]: list(lic.get("disabledPlans") or [])
        for lic in user.props.get("assignedLicenses") or []
        if lic["skuId"] in inherited
    }


@router.add("GET", "/users/{id}/licenseDetails", USER_READ)
def licence_details(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    skus = req.tenant.skus
    items = []
    for lic in user.props.get("assignedLicenses", []):
        sku = skus.get(lic["skuId"])
        disabled = set(lic.get("disabledPlans") or [])
        plans = plans_of(sku.sku_part_number) if sku else []
        items.append(
            {
                "id": f"{lic['skuId']}-{user.id}",
                "skuId": lic["skuId"],
                "skuPartNumber": sku.sku_part_number if sku else None,
                "servicePlans": [
                    plan_view(p, "Disabled" if p.id in disabled else "Success") for p in plans
                ],
            }
        )
    return GraphResponse(
        200,
        {
            "@odata.context": f"{req.base_url}/$metadata#users('{user.id}')/licenseDetails",
            "value": items,
        },
    )
