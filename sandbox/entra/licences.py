"""Graph licences: subscribedSkus, users/{id}/assignLicense and users/{id}/licenseDetails."""

from __future__ import annotations

from sandbox.entra.errors import bad_request, not_found
from sandbox.entra.model import EntraTenant, Sku
from sandbox.entra.router import (
    ORG_READ,
    USER_READ,
    USER_WRITE,
    GraphRequest,
    GraphResponse,
    router,
)
from sandbox.entra.users import find_user, view


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
        "servicePlans": [],
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


def _sku_ids(items: object, field: str) -> list[str]:
    if not isinstance(items, list):
        raise bad_request(f"Invalid value specified for property '{field}'.")
    ids = []
    for item in items:
        sku_id = item.get("skuId") if isinstance(item, dict) else item
        if not isinstance(sku_id, str):
            raise bad_request(f"Invalid value specified for property '{field}'.")
        ids.append(sku_id)
    return ids


@router.add("POST", "/users/{id}/assignLicense", USER_WRITE)
def assign_license(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    data = req.json()
    adds = data.get("addLicenses") or []
    add_ids = _sku_ids(adds, "addLicenses")
    remove_ids = _sku_ids(data.get("removeLicenses") or [], "removeLicenses")
    tenant = req.tenant
    current = {lic["skuId"]: lic for lic in user.props.get("assignedLicenses", [])}
    # Check everything first: a failed assignment changes nothing.
    for sku_id in add_ids + remove_ids:
        if sku_id not in tenant.skus:
            raise bad_request(f"License {sku_id} does not correspond to a valid company License.")
    for sku_id in remove_ids:
        if sku_id not in current:
            raise bad_request("User does not have a corresponding license.")
    if add_ids and not user.props.get("usageLocation"):
        raise bad_request("License assignment cannot be done for user with invalid usage location.")
    for sku_id in add_ids:
        sku = tenant.skus[sku_id]
        if sku_id not in current and tenant.consumed(sku_id) >= sku.enabled:
            raise bad_request(f"Subscription {sku_id} does not have any available licenses.")
    for sku_id in remove_ids:
        current.pop(sku_id)
    for item, sku_id in zip(adds, add_ids, strict=True):
        disabled = item.get("disabledPlans") if isinstance(item, dict) else None
        current[sku_id] = {"skuId": sku_id, "disabledPlans": list(disabled or [])}
    user.props["assignedLicenses"] = list(current.values())
    tenant.touch(user, "assignedLicenses")
    return GraphResponse(
        200, {"@odata.context": f"{req.base_url}/$metadata#users/$entity", **view(user, {})}
    )


@router.add("GET", "/users/{id}/licenseDetails", USER_READ)
def licence_details(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    skus = req.tenant.skus
    items = []
    for lic in user.props.get("assignedLicenses", []):
        sku = skus.get(lic["skuId"])
        items.append(
            {
                "id": f"{lic['skuId']}-{user.id}",
                "skuId": lic["skuId"],
                "skuPartNumber": sku.sku_part_number if sku else None,
                "servicePlans": [],
            }
        )
    return GraphResponse(
        200,
        {
            "@odata.context": f"{req.base_url}/$metadata#users('{user.id}')/licenseDetails",
            "value": items,
        },
    )
